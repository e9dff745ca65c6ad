-- append_login_attempt() as 20261204020100 defined it, with fewer statements for an attempt that changes
-- its network's throttle state (every failed credential check from a throttled address). Measured, the
-- throttle added about a fifth of the audit transaction's CPU to a failed login, most of it per statement
-- executed inside the function (each statement's executor start and end, the foreign key's trigger query),
-- not the rows written. Now:
-- * A network's first change (the attempt decided on the empty state) inserts the row and the failed
--   account in one statement, instead of a lookup that finds nothing, an insert, and an insert.
-- * A later change locks the row (SELECT ... FOR UPDATE, as before, which also keeps its state should it
--   have to be put back) and then, in one statement, counts the network's failed accounts and, when the
--   count is the one the attempt decided on, writes the new state and the failed account; instead of a
--   count, an update and an insert. The count's statement begins after the lock is held, so it sees the
--   failures of every attempt that held the lock before (one statement, one snapshot: the count and the
--   writes it allows are taken together).
-- * The expected and new states are read from the JSON once, not field by field in every comparison.
-- * ip_failed_accounts no longer has a foreign key to ip_throttles: its trigger ran a query per failure.
--   The rows were already written only by this function, under the network row's lock (a network's first
--   failed account is inserted with its row), and deleted only with their row (delete_idle_ip_throttles),
--   both running with the owner's rights (the runtime role may only read these tables), so that no failed
--   account exists without its row, which the function relies on (a network without a row has no failed
--   accounts); test/ip-throttle.test.ts checks it after its concurrent bursts.
-- The answers, what is written, the lock order (throttle row, network lockout row, then append_auth_events'
-- rows), putting everything back when the events are not appended, and the unchanged path (a refusal
-- inside an episode reads, without a lock, in one statement) are as before. A stale answer for a network
-- whose row is gone now says 0 other failed accounts, not null.

ALTER TABLE ip_failed_accounts DROP CONSTRAINT IF EXISTS ip_failed_accounts_throttle_fkey;

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
  -- Whether the attempt writes the network's state: it spent a failure, or its decision changed the state.
  v_changes boolean := t IS NOT NULL AND (coalesce((d->'throttle'->>'failed')::boolean, false) OR d->'throttle'->'next' IS DISTINCT FROM d->'throttle'->'expected');
  v_expected ip_throttles;
  v_next ip_throttles;
  v_expected_others integer;
  v_from_empty boolean;
  v_throttle ip_throttles;
  v_others integer;
  v_aged boolean := false;
  v_created boolean := false;
  v_wrote boolean := false;
  v_own_failed_at timestamptz;
  v_pair account_network_lockouts;
  v_stale jsonb := '{}';
  v_answer jsonb;
BEGIN
  IF v_tenant IS NULL OR v_now IS NULL OR v_network IS NULL OR v_identifier IS NULL THEN
    RAISE EXCEPTION 'append_login_attempt needs tenant_id, now, defence.network and defence.identifier' USING ERRCODE = '22023';
  END IF;

  IF t IS NOT NULL THEN
    v_expected := jsonb_populate_record(NULL::ip_throttles, t->'expected');
    v_expected_others := (t->>'expected_other_accounts')::int;
  END IF;

  IF t IS NOT NULL AND NOT v_changes THEN
    -- One statement, one snapshot: the row and the failed accounts as committed together.
    SELECT s.budget_full_at, s.spray_budget_full_at, s.episode_started_at, coalesce(s.episode_count, 0),
           (SELECT count(*)::int FROM ip_failed_accounts a
            WHERE a.tenant_id = v_tenant AND a.network = v_network AND a.identifier <> v_identifier AND a.last_failed_at > v_since)
    INTO v_throttle.budget_full_at, v_throttle.spray_budget_full_at, v_throttle.episode_started_at, v_throttle.episode_count, v_others
    FROM (SELECT 1) AS one
    LEFT JOIN ip_throttles s ON s.tenant_id = v_tenant AND s.network = v_network;
  ELSIF v_changes THEN
    v_next := jsonb_populate_record(NULL::ip_throttles, t->'next');
    v_from_empty := v_expected.budget_full_at IS NULL AND v_expected.spray_budget_full_at IS NULL
      AND v_expected.episode_started_at IS NULL AND v_expected.episode_count = 0 AND v_expected_others = 0;
    LOOP
      IF v_from_empty THEN
        -- Decided on the empty state (no row, so no failed accounts): the attempt creates the row with its
        -- new state, and its failed account with it. A concurrent creator makes this insert wait for its
        -- commit and do nothing (nor the failed account's); the row is then locked as committed, below.
        WITH created AS (
          INSERT INTO ip_throttles (tenant_id, network, budget_full_at, spray_budget_full_at, episode_started_at, episode_count, updated_at)
          VALUES (v_tenant, v_network, v_next.budget_full_at, v_next.spray_budget_full_at, v_next.episode_started_at, v_next.episode_count, v_now)
          ON CONFLICT ON CONSTRAINT ip_throttles_pkey DO NOTHING
          RETURNING 1
        ), failed AS (
          INSERT INTO ip_failed_accounts (tenant_id, network, identifier, last_failed_at)
          SELECT v_tenant, v_network, v_identifier, v_now FROM created WHERE v_failed
          ON CONFLICT ON CONSTRAINT ip_failed_accounts_pkey DO UPDATE SET last_failed_at = EXCLUDED.last_failed_at
        )
        SELECT count(*) > 0 INTO v_created FROM created;
        IF v_created THEN
          v_throttle := NULL;
          v_throttle.episode_count := 0;
          v_others := 0;
          v_wrote := true;
          EXIT;
        END IF;
      END IF;

      SELECT * INTO v_throttle FROM ip_throttles WHERE tenant_id = v_tenant AND network = v_network FOR UPDATE;
      IF NOT FOUND THEN
        -- No row: the empty state, and no failed accounts. Decided on another state, the attempt is stale
        -- (the answer says so below); decided on this one, the row went between the insert and the lock.
        v_throttle := NULL;
        v_throttle.episode_count := 0;
        v_others := 0;
        EXIT WHEN NOT v_from_empty;
        CONTINUE;
      END IF;

      IF v_throttle.budget_full_at IS NOT DISTINCT FROM v_expected.budget_full_at
         AND v_throttle.spray_budget_full_at IS NOT DISTINCT FROM v_expected.spray_budget_full_at
         AND v_throttle.episode_started_at IS NOT DISTINCT FROM v_expected.episode_started_at
         AND v_throttle.episode_count IS NOT DISTINCT FROM v_expected.episode_count THEN
        -- A new statement, a new snapshot: it sees the failures committed by whoever held the lock before.
        -- Counted with them: whether failed accounts have aged out of the window, and this account's last
        -- failure (to put back). Only when the count is the one the attempt decided on are the new state
        -- and the failed account written, under the row's lock, before the events are appended (rather
        -- than while append_auth_events' chain head is held, which every attempt of the chain waits for),
        -- and put back below if the events are not appended.
        WITH counted AS (
          SELECT count(*) FILTER (WHERE a.identifier <> v_identifier AND a.last_failed_at > v_since)::int AS others,
                 coalesce(bool_or(a.identifier <> v_identifier AND a.last_failed_at <= v_since), false) AS aged,
                 max(a.last_failed_at) FILTER (WHERE a.identifier = v_identifier) AS own_failed_at
          FROM ip_failed_accounts a
          WHERE a.tenant_id = v_tenant AND a.network = v_network
        ), updated AS (
          UPDATE ip_throttles SET
            budget_full_at = v_next.budget_full_at,
            spray_budget_full_at = v_next.spray_budget_full_at,
            episode_started_at = v_next.episode_started_at,
            episode_count = v_next.episode_count,
            updated_at = v_now
          WHERE tenant_id = v_tenant AND network = v_network AND (SELECT c.others FROM counted c) = v_expected_others
        ), failed AS (
          INSERT INTO ip_failed_accounts (tenant_id, network, identifier, last_failed_at)
          SELECT v_tenant, v_network, v_identifier, v_now FROM counted c WHERE v_failed AND c.others = v_expected_others
          ON CONFLICT ON CONSTRAINT ip_failed_accounts_pkey DO UPDATE SET last_failed_at = EXCLUDED.last_failed_at
        )
        SELECT c.others, c.aged, c.own_failed_at INTO v_others, v_aged, v_own_failed_at FROM counted c;
        v_wrote := v_others = v_expected_others;
      ELSE
        -- Stale: the failed accounts are counted for the answer only.
        SELECT count(*)::int INTO v_others FROM ip_failed_accounts a
        WHERE a.tenant_id = v_tenant AND a.network = v_network AND a.identifier <> v_identifier AND a.last_failed_at > v_since;
      END IF;
      EXIT;
    END LOOP;
  END IF;

  IF t IS NOT NULL AND (
       v_throttle.budget_full_at IS DISTINCT FROM v_expected.budget_full_at
    OR v_throttle.spray_budget_full_at IS DISTINCT FROM v_expected.spray_budget_full_at
    OR v_throttle.episode_started_at IS DISTINCT FROM v_expected.episode_started_at
    OR v_throttle.episode_count IS DISTINCT FROM v_expected.episode_count
    OR v_others IS DISTINCT FROM v_expected_others) THEN
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

  IF v_stale = '{}' THEN
    v_answer := append_auth_events(p_attempt - 'defence');
  END IF;
  IF v_stale <> '{}' OR v_answer->>'status' <> 'appended' THEN
    -- Nothing of the attempt is kept: the network's state and failed account are as they were, and a row
    -- the attempt created is gone.
    IF v_wrote AND v_failed THEN
      IF v_own_failed_at IS NULL THEN
        DELETE FROM ip_failed_accounts WHERE tenant_id = v_tenant AND network = v_network AND identifier = v_identifier;
      ELSE
        UPDATE ip_failed_accounts SET last_failed_at = v_own_failed_at
        WHERE tenant_id = v_tenant AND network = v_network AND identifier = v_identifier;
      END IF;
    END IF;
    IF v_created THEN
      DELETE FROM ip_throttles WHERE tenant_id = v_tenant AND network = v_network;
    ELSIF v_wrote THEN
      UPDATE ip_throttles SET
        budget_full_at = v_throttle.budget_full_at,
        spray_budget_full_at = v_throttle.spray_budget_full_at,
        episode_started_at = v_throttle.episode_started_at,
        episode_count = v_throttle.episode_count,
        updated_at = v_throttle.updated_at
      WHERE tenant_id = v_tenant AND network = v_network;
    END IF;
    IF v_stale <> '{}' THEN
      RETURN v_stale || jsonb_build_object('status', 'stale_defence');
    END IF;
    RETURN v_answer;
  END IF;

  IF v_aged THEN
    DELETE FROM ip_failed_accounts
    WHERE tenant_id = v_tenant AND network = v_network AND identifier <> v_identifier AND last_failed_at <= v_since;
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
