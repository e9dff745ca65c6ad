-- A network's failed accounts move into its ip_throttles row: failed_accounts, a jsonb object from each
-- account (identifier) to its last failure from the network (a timestamptz as JSON text). Before, they were
-- rows of ip_failed_accounts, each referencing its network's row: a checked failure looked the network's
-- row up and locked it, counted its failed accounts, updated the row, upserted the failed account (whose
-- foreign key ran its trigger's query), and deleted aged ones when there were any; the snapshot a login
-- decides on counted them with a second look-up. That was most of what the throttle check added to a
-- failed attempt, per statement rather than per row. Now a failure writes one row in one statement: the
-- first failure of a network inserts it, a later one updates it on the condition that it is as the attempt
-- decided on (state and failed accounts), noting the account and dropping the accounts aged out of the
-- window; and the snapshot reads one row.
--
-- What is decided on is unchanged: the distinct accounts other than the attempt's that the network failed
-- against since the window's start, re-checked under the row lock against the client's snapshot, so
-- budgets stay exact under concurrency. The object stays small: every entry within the window is a failure
-- the budgets let through (a spraying network spends the spraying budget), and aged entries go with the
-- network's next failure, as the rows did.
--
-- ip_failed_accounts becomes a view of the same columns over the rows, for reading (the runtime role keeps
-- its SELECT on it, granted by authtrail_role_grants as before).

-- ip_throttle_state_json() takes the row type, which a column cannot be added to while it does: dropped
-- and created again as 20261202080500 defined it.
DROP FUNCTION ip_throttle_state_json(ip_throttles, integer);

ALTER TABLE ip_throttles
  ADD COLUMN failed_accounts jsonb NOT NULL DEFAULT '{}',
  ADD CONSTRAINT ip_throttles_failed_accounts_object CHECK (jsonb_typeof(failed_accounts) = 'object');

-- Each failure of a network rewrites its row: room left on the row's page lets the new version stay on it
-- (a heap-only update, which writes no index entry). Pages written from now on keep 30 % free.
ALTER TABLE ip_throttles SET (fillfactor = 70);

UPDATE ip_throttles t SET failed_accounts = a.failed
FROM (SELECT tenant_id, network, jsonb_object_agg(identifier, last_failed_at) AS failed FROM ip_failed_accounts GROUP BY tenant_id, network) AS a
WHERE a.tenant_id = t.tenant_id AND a.network = t.network;

DROP TABLE ip_failed_accounts;

CREATE FUNCTION ip_throttle_state_json(s ip_throttles, other_failed_accounts integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object(
  'budget_full_at', s.budget_full_at,
  'spray_budget_full_at', s.spray_budget_full_at,
  'episode_started_at', s.episode_started_at,
  'episode_count', s.episode_count,
  'other_failed_accounts', other_failed_accounts);

CREATE VIEW ip_failed_accounts AS
SELECT t.tenant_id, t.network, a.key AS identifier, a.value::timestamptz AS last_failed_at
FROM ip_throttles t
CROSS JOIN LATERAL jsonb_each_text(t.failed_accounts) AS a;

-- Whether a network's row (its state, and its failed accounts other than the attempt's within the window)
-- is the one an attempt decided on: `expected` is the attempt's throttle.expected. STABLE, as the casts from
-- text it makes are: so the planner inlines it (it would not inline an IMMUTABLE one), and a statement
-- using it does not call a function per row.
CREATE FUNCTION ip_throttle_is_expected(s ip_throttles, other_failed_accounts integer, expected jsonb, expected_other_accounts integer) RETURNS boolean
LANGUAGE sql STABLE
RETURN s.budget_full_at IS NOT DISTINCT FROM (expected->>'budget_full_at')::timestamptz
   AND s.spray_budget_full_at IS NOT DISTINCT FROM (expected->>'spray_budget_full_at')::timestamptz
   AND s.episode_started_at IS NOT DISTINCT FROM (expected->>'episode_started_at')::timestamptz
   AND s.episode_count IS NOT DISTINCT FROM (expected->>'episode_count')::int
   AND other_failed_accounts IS NOT DISTINCT FROM expected_other_accounts;

-- append_login_attempt() as 20261204020100 defined it, with the failed accounts in the network's row, and
-- an attempt that changes the network's state doing it in one statement when the row is as it decided on:
-- the first failure of a network inserts the row; a later one updates it on the condition that its state
-- and failed accounts are those the attempt decided on (the update locks the row and, should another
-- attempt have changed it meanwhile, re-evaluates the condition on the row as committed). Only when that
-- finds nothing to write is the row locked and read, to answer with the state found. The answers, the
-- lock order (throttle row, network lockout row, then append_auth_events' rows), writing the network's
-- state before the events are appended and putting it back if they are not, and the path of an attempt
-- that changes nothing (one snapshot, no lock, no write) are unchanged.
CREATE OR REPLACE FUNCTION append_login_attempt(p_attempt jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_tenant uuid := (p_attempt->>'tenant_id')::uuid;
  v_now timestamptz := (p_attempt->>'now')::timestamptz;
  d jsonb := p_attempt->'defence';
  v_network text := d->>'network';
  v_identifier text := d->>'identifier';
  t jsonb := d->'throttle';
  nl jsonb := d->'network_lockout';
  v_since timestamptz := (d->'throttle'->>'since')::timestamptz;
  v_failed boolean := coalesce((d->'throttle'->>'failed')::boolean, false);
  v_expected_others integer := (d->'throttle'->>'expected_other_accounts')::int;
  -- Whether the attempt writes the network's state: it spent a failure, or its decision changed the state.
  v_changes boolean := t IS NOT NULL AND (coalesce((d->'throttle'->>'failed')::boolean, false) OR d->'throttle'->'next' IS DISTINCT FROM d->'throttle'->'expected');
  -- Decided on a network without a row: its first change creates it.
  v_create boolean := d->'throttle'->'expected' = '{"budget_full_at": null, "spray_budget_full_at": null, "episode_started_at": null, "episode_count": 0}'::jsonb
                      AND (d->'throttle'->>'expected_other_accounts')::int = 0;
  v_throttle ip_throttles;
  v_others integer;
  v_created boolean := false;
  v_wrote boolean := false;
  v_pair account_network_lockouts;
  v_stale jsonb := '{}';
  v_answer jsonb;
BEGIN
  IF v_tenant IS NULL OR v_now IS NULL OR v_network IS NULL OR v_identifier IS NULL THEN
    RAISE EXCEPTION 'append_login_attempt needs tenant_id, now, defence.network and defence.identifier' USING ERRCODE = '22023';
  END IF;

  IF t IS NOT NULL AND NOT v_changes THEN
    -- One statement, one snapshot, no lock.
    SELECT s.budget_full_at, s.spray_budget_full_at, s.episode_started_at, coalesce(s.episode_count, 0),
           (SELECT count(*)::int FROM jsonb_each_text(s.failed_accounts) a WHERE a.key <> v_identifier AND a.value::timestamptz > v_since)
    INTO v_throttle.budget_full_at, v_throttle.spray_budget_full_at, v_throttle.episode_started_at, v_throttle.episode_count, v_others
    FROM (SELECT 1) AS one
    LEFT JOIN ip_throttles s ON s.tenant_id = v_tenant AND s.network = v_network;
  ELSIF v_changes THEN
    IF v_create THEN
      v_throttle.episode_count := 0;
      v_others := 0;
    END IF;
    LOOP
      IF v_create THEN
        -- A concurrent creator makes this insert wait for its commit and do nothing.
        INSERT INTO ip_throttles (tenant_id, network, budget_full_at, spray_budget_full_at, episode_started_at, episode_count, failed_accounts, updated_at)
        VALUES (v_tenant, v_network, (t->'next'->>'budget_full_at')::timestamptz, (t->'next'->>'spray_budget_full_at')::timestamptz,
                (t->'next'->>'episode_started_at')::timestamptz, (t->'next'->>'episode_count')::int,
                CASE WHEN v_failed THEN jsonb_build_object(v_identifier, v_now) ELSE '{}' END, v_now)
        ON CONFLICT ON CONSTRAINT ip_throttles_pkey DO NOTHING;
        v_created := FOUND;
        EXIT WHEN v_created;
      ELSE
        -- The new state, and for a failure its account noted and the accounts aged out of the window dropped.
        -- `earlier` is the row as this statement's snapshot has it: what is put back if the events are not
        -- appended. When the row was changed meanwhile, the condition is re-evaluated on the version
        -- committed since (`earlier` stays the older one), and holds only if that version has the state and
        -- failed accounts decided on: the same content, since no attempt changes the failed accounts without
        -- changing the state, and one that puts the state back puts them back too.
        UPDATE ip_throttles s SET
          budget_full_at = (t->'next'->>'budget_full_at')::timestamptz,
          spray_budget_full_at = (t->'next'->>'spray_budget_full_at')::timestamptz,
          episode_started_at = (t->'next'->>'episode_started_at')::timestamptz,
          episode_count = (t->'next'->>'episode_count')::int,
          failed_accounts = CASE WHEN v_failed THEN
              (SELECT coalesce(jsonb_object_agg(a.key, a.value), '{}') FROM jsonb_each_text(s.failed_accounts) a
               WHERE a.key <> v_identifier AND a.value::timestamptz > v_since) || jsonb_build_object(v_identifier, v_now)
            ELSE s.failed_accounts END,
          updated_at = v_now
        FROM ip_throttles AS earlier
        WHERE s.tenant_id = v_tenant AND s.network = v_network
          AND earlier.tenant_id = v_tenant AND earlier.network = v_network
          AND ip_throttle_is_expected(s, (SELECT count(*)::int FROM jsonb_each_text(s.failed_accounts) a WHERE a.key <> v_identifier AND a.value::timestamptz > v_since),
                                      t->'expected', v_expected_others)
        RETURNING earlier.failed_accounts, earlier.updated_at INTO v_throttle.failed_accounts, v_throttle.updated_at;
        IF FOUND THEN
          v_wrote := true;
          v_throttle.budget_full_at := (t->'expected'->>'budget_full_at')::timestamptz;
          v_throttle.spray_budget_full_at := (t->'expected'->>'spray_budget_full_at')::timestamptz;
          v_throttle.episode_started_at := (t->'expected'->>'episode_started_at')::timestamptz;
          v_throttle.episode_count := (t->'expected'->>'episode_count')::int;
          v_others := v_expected_others;
          EXIT;
        END IF;
      END IF;
      -- Not as decided on, or created meanwhile: locked and read, as committed by whoever held it before.
      SELECT s.budget_full_at, s.spray_budget_full_at, s.episode_started_at, s.episode_count, s.failed_accounts, s.updated_at,
             (SELECT count(*)::int FROM jsonb_each_text(s.failed_accounts) a WHERE a.key <> v_identifier AND a.value::timestamptz > v_since)
      INTO v_throttle.budget_full_at, v_throttle.spray_budget_full_at, v_throttle.episode_started_at, v_throttle.episode_count,
           v_throttle.failed_accounts, v_throttle.updated_at, v_others
      FROM ip_throttles s WHERE s.tenant_id = v_tenant AND s.network = v_network FOR UPDATE;
      -- No row: the empty state, and no failed accounts.
      v_create := NOT FOUND;
      IF v_create THEN
        v_throttle := NULL;
        v_throttle.episode_count := 0;
        v_others := 0;
      END IF;
      -- Decided on something else, the attempt is stale (the answer says so below); else, as decided on
      -- after all (a row created meanwhile and removed again, say), the write is tried again.
      EXIT WHEN NOT ip_throttle_is_expected(v_throttle, v_others, t->'expected', v_expected_others);
    END LOOP;
  END IF;

  IF t IS NOT NULL AND NOT ip_throttle_is_expected(v_throttle, v_others, t->'expected', v_expected_others) THEN
    v_stale := v_stale || jsonb_build_object('throttle', ip_throttle_state_json(v_throttle, v_others));
  END IF;

  IF nl IS NOT NULL THEN
    INSERT INTO account_network_lockouts (tenant_id, identifier, network) VALUES (v_tenant, v_identifier, v_network)
    ON CONFLICT ON CONSTRAINT account_network_lockouts_pkey DO NOTHING;
    SELECT * INTO v_pair FROM account_network_lockouts
    WHERE tenant_id = v_tenant AND identifier = v_identifier AND network = v_network FOR UPDATE;
    IF v_pair.failed_login_attempts IS DISTINCT FROM (nl->'expected'->>'failed_login_attempts')::int
       OR v_pair.window_started_at IS DISTINCT FROM (nl->'expected'->>'window_started_at')::timestamptz
       OR v_pair.last_failed_at IS DISTINCT FROM (nl->'expected'->>'last_failed_at')::timestamptz
       OR v_pair.account_locked_until IS DISTINCT FROM (nl->'expected'->>'account_locked_until')::timestamptz
       OR v_pair.lockout_count IS DISTINCT FROM (nl->'expected'->>'lockout_count')::int
       OR v_pair.last_locked_at IS DISTINCT FROM (nl->'expected'->>'last_locked_at')::timestamptz THEN
      v_stale := v_stale || jsonb_build_object('network_lockout', account_network_lockout_state_json(v_pair));
    END IF;
  END IF;

  -- The network's new state was written above, under its row lock alone, rather than while
  -- append_auth_events' chain head is held (every attempt of the chain waits for that one), and is put back
  -- if the events are not appended. Until this transaction ends no one else sees it: readers see the state
  -- as committed, and writers wait for the row lock.
  IF v_stale = '{}' THEN
    v_answer := append_auth_events(p_attempt - 'defence');
  END IF;
  IF v_stale <> '{}' OR v_answer->>'status' <> 'appended' THEN
    -- Nothing of the attempt is kept: the network's row is as it was, or gone if the attempt created it.
    IF v_created THEN
      DELETE FROM ip_throttles WHERE tenant_id = v_tenant AND network = v_network;
    ELSIF v_wrote THEN
      UPDATE ip_throttles SET
        budget_full_at = v_throttle.budget_full_at,
        spray_budget_full_at = v_throttle.spray_budget_full_at,
        episode_started_at = v_throttle.episode_started_at,
        episode_count = v_throttle.episode_count,
        failed_accounts = v_throttle.failed_accounts,
        updated_at = v_throttle.updated_at
      WHERE tenant_id = v_tenant AND network = v_network;
    END IF;
    IF v_stale <> '{}' THEN
      RETURN v_stale || jsonb_build_object('status', 'stale_defence');
    END IF;
    RETURN v_answer;
  END IF;

  IF nl IS NOT NULL THEN
    UPDATE account_network_lockouts SET
      failed_login_attempts = (nl->'next'->>'failed_login_attempts')::int,
      window_started_at = (nl->'next'->>'window_started_at')::timestamptz,
      last_failed_at = (nl->'next'->>'last_failed_at')::timestamptz,
      account_locked_until = (nl->'next'->>'account_locked_until')::timestamptz,
      lockout_count = (nl->'next'->>'lockout_count')::int,
      last_locked_at = (nl->'next'->>'last_locked_at')::timestamptz,
      updated_at = v_now
    WHERE tenant_id = v_tenant AND identifier = v_identifier AND network = v_network;
  END IF;

  IF (d->>'remember_network')::boolean THEN
    INSERT INTO account_known_networks (tenant_id, identifier, network, last_success_at)
    VALUES (v_tenant, v_identifier, v_network, v_now)
    ON CONFLICT ON CONSTRAINT account_known_networks_pkey DO UPDATE SET last_success_at = EXCLUDED.last_success_at;
  END IF;
  RETURN v_answer;
END
$$;

-- delete_idle_ip_throttles() as 20261202090300 defined it, reading the failed accounts from the row. A row
-- a login changes meanwhile is re-checked as committed before it goes (READ COMMITTED re-evaluates the
-- condition on the row's newest version), its failed accounts included.
CREATE OR REPLACE FUNCTION delete_idle_ip_throttles(p_tenant_id uuid) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := now();
  v_window interval;
  v_deleted bigint;
BEGIN
  SELECT make_interval(secs => coalesce((t.defence_policy->>'ip_window_seconds')::int, 604800)) INTO v_window
  FROM tenants t WHERE t.id = p_tenant_id;
  IF v_window IS NULL THEN
    RETURN 0;
  END IF;
  DELETE FROM ip_throttles t
  WHERE t.tenant_id = p_tenant_id
    AND t.episode_started_at IS NULL
    AND coalesce(t.budget_full_at, '-infinity') <= v_now
    AND coalesce(t.spray_budget_full_at, '-infinity') <= v_now
    AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(t.failed_accounts) a WHERE a.value::timestamptz > v_now - v_window);
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END
$$;
