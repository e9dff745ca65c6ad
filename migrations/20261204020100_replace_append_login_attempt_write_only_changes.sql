-- append_login_attempt() as 20261202080500 defined it, locking and writing a network's throttle row only
-- when the attempt changes it. Before, every attempt with a throttle upserted the network's row, locked it
-- and rewrote it after appending its events, so all refusals of one throttled address queued on that row's
-- lock, held until commit (a throttled address was answered more slowly than a locked account), and every
-- checked attempt paid an insert, a lock and an update of its network's row, the last while holding the
-- chain head that every attempt of its chain waits for. Now:
-- * An attempt that changes nothing (a refusal inside an episode already recorded; a success that closes
--   no episode) reads the row and its failed accounts in one statement, so from one snapshot, without a
--   lock, and writes neither. That is exact: such an attempt writes nothing the others decide on, so it
--   can be ordered before any attempt that commits after its read, and its check of the state it decided
--   on against that read is the check of a serial order. A network that never failed needs no row.
-- * An attempt that changes the state (a failure, the refusal that begins an episode, the success that
--   ends one) locks the row as before, but looks it up first: the first change of a network inserts the
--   row with its new state (decided on the empty state), later ones lock the existing row without an
--   insert. The failed accounts are counted, the aged ones detected and the account's own last failure read
--   in one statement. The new state and the failed account are written before the events are appended,
--   under the network's row lock alone, and put back (a created row deleted) if the events are then not
--   appended; aged failed accounts are deleted after, and only when there are any.
-- The answers, the lock order (throttle row, network lockout row, then append_auth_events' rows) and the
-- network lockout and known networks are unchanged.

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

  IF t IS NOT NULL AND NOT v_changes THEN
    -- One statement, one snapshot: the row and the failed accounts as committed together.
    SELECT s.budget_full_at, s.spray_budget_full_at, s.episode_started_at, coalesce(s.episode_count, 0),
           (SELECT count(*)::int FROM ip_failed_accounts a
            WHERE a.tenant_id = v_tenant AND a.network = v_network AND a.identifier <> v_identifier AND a.last_failed_at > v_since)
    INTO v_throttle.budget_full_at, v_throttle.spray_budget_full_at, v_throttle.episode_started_at, v_throttle.episode_count, v_others
    FROM (SELECT 1) AS one
    LEFT JOIN ip_throttles s ON s.tenant_id = v_tenant AND s.network = v_network;
  ELSIF v_changes THEN
    LOOP
      SELECT * INTO v_throttle FROM ip_throttles WHERE tenant_id = v_tenant AND network = v_network FOR UPDATE;
      EXIT WHEN FOUND;
      -- No row: the empty state, and no failed accounts (they reference the row).
      v_throttle := NULL;
      v_throttle.episode_count := 0;
      -- Decided on something else, the attempt is stale (the answer says so below).
      EXIT WHEN t->'expected' <> '{"budget_full_at": null, "spray_budget_full_at": null, "episode_started_at": null, "episode_count": 0}'::jsonb
             OR (t->>'expected_other_accounts')::int <> 0;
      -- Decided on the empty state: the attempt creates the row with its new state. A concurrent creator
      -- makes this insert wait for its commit and do nothing; the row is then locked as committed.
      INSERT INTO ip_throttles (tenant_id, network, budget_full_at, spray_budget_full_at, episode_started_at, episode_count, updated_at)
      VALUES (v_tenant, v_network, (t->'next'->>'budget_full_at')::timestamptz, (t->'next'->>'spray_budget_full_at')::timestamptz,
              (t->'next'->>'episode_started_at')::timestamptz, (t->'next'->>'episode_count')::int, v_now)
      ON CONFLICT ON CONSTRAINT ip_throttles_pkey DO NOTHING;
      v_created := FOUND;
      v_others := 0;
      EXIT WHEN v_created;
    END LOOP;
    IF NOT v_created THEN
      -- A new statement, a new snapshot: it sees the failures committed by whoever held the lock before.
      -- Also: whether failed accounts have aged out of the window, and this account's last failure (to restore).
      SELECT count(*) FILTER (WHERE a.identifier <> v_identifier AND a.last_failed_at > v_since)::int,
             coalesce(bool_or(a.identifier <> v_identifier AND a.last_failed_at <= v_since), false),
             max(a.last_failed_at) FILTER (WHERE a.identifier = v_identifier)
      INTO v_others, v_aged, v_own_failed_at
      FROM ip_failed_accounts a
      WHERE a.tenant_id = v_tenant AND a.network = v_network;
    END IF;
  END IF;

  IF t IS NOT NULL AND (
       v_throttle.budget_full_at IS DISTINCT FROM (t->'expected'->>'budget_full_at')::timestamptz
    OR v_throttle.spray_budget_full_at IS DISTINCT FROM (t->'expected'->>'spray_budget_full_at')::timestamptz
    OR v_throttle.episode_started_at IS DISTINCT FROM (t->'expected'->>'episode_started_at')::timestamptz
    OR v_throttle.episode_count IS DISTINCT FROM (t->'expected'->>'episode_count')::int
    OR v_others IS DISTINCT FROM (t->>'expected_other_accounts')::int) THEN
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

  -- The network's new state is written now, under its row lock alone, rather than while append_auth_events'
  -- chain head is held (every attempt of the chain waits for that one), and put back if the events are not
  -- appended. Until this transaction ends no one else sees either: readers see the state as committed, and
  -- writers wait for the row lock.
  IF v_stale = '{}' AND v_changes THEN
    v_wrote := true;
    IF NOT v_created THEN
      UPDATE ip_throttles SET
        budget_full_at = (t->'next'->>'budget_full_at')::timestamptz,
        spray_budget_full_at = (t->'next'->>'spray_budget_full_at')::timestamptz,
        episode_started_at = (t->'next'->>'episode_started_at')::timestamptz,
        episode_count = (t->'next'->>'episode_count')::int,
        updated_at = v_now
      WHERE tenant_id = v_tenant AND network = v_network;
    END IF;
    IF v_failed THEN
      INSERT INTO ip_failed_accounts (tenant_id, network, identifier, last_failed_at)
      VALUES (v_tenant, v_network, v_identifier, v_now)
      ON CONFLICT ON CONSTRAINT ip_failed_accounts_pkey DO UPDATE SET last_failed_at = EXCLUDED.last_failed_at;
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
