-- A checked failure writes its network's row with one plain statement when the row is still the version the
-- attempt read. Measured by counting instructions of append_login_attempt() (one backend, 200 calls, no
-- other load): the throttle's part of a failure on a network with a row cost about as much as the rest of
-- the audit transaction's statements together would suggest it should not: the update of 20261206030100
-- joined ip_throttles to itself (the row as it was, for putting back), re-counted the failed accounts with
-- a subquery in its condition, cast the expected state from text in its condition and again in PL/pgSQL,
-- and rebuilt failed_accounts with an aggregate; most of it was the executor setting up that statement's
-- nodes (a nested loop, two index scans, two aggregates over jsonb_each_text, a dozen casts, each function
-- looked up and its permission checked) for one row, on every failure.
--
-- Now the attempt's snapshot carries its row's version (xmin) and, of that version, the earliest failure
-- noted (oldest_failed_at), the attempt's own account's entry (own_failed_at) and updated_at. When the
-- row is still that version (the update's condition, re-evaluated on the newest version should another
-- attempt have changed it meanwhile) and no entry has aged out of the window since the snapshot (the
-- earliest is after `since`), the state and the failed accounts the attempt decided on are the row's
-- exactly, so the count of other accounts needs no re-counting, and there is nothing to drop from
-- failed_accounts: the update sets the new state and notes the account (one key) and nothing else. What
-- it changed is known without reading it back: put back, the state is the expected one, the account's
-- entry its own_failed_at (or none), and updated_at the snapshot's.
--
-- Otherwise (another version, an entry aged out, no row yet, or a row created meanwhile) the attempt takes
-- the path it took before: the row locked and read, its state and its other accounts within the window
-- compared with what the attempt decided on, then written with the aged accounts dropped, or the state
-- found answered, now with its version, to decide on again. Budgets stay exact under concurrency: nothing
-- is written but on the row an attempt decided on, under its lock. The lock order, the write before the
-- events are appended, the putting back when they are not, and the refusal that changes nothing (one
-- snapshot, no lock, no write) are unchanged.

-- What an attempt decides on, as the stale answer gives it and as the snapshot reads it
-- (src/db/ip-throttles.ts): the state, the other failed accounts within the window, and the version.
CREATE FUNCTION ip_throttle_snapshot_json(s ip_throttles, xmin xid, other_failed_accounts integer, identifier text) RETURNS jsonb
LANGUAGE sql STABLE
RETURN jsonb_build_object(
  'budget_full_at', s.budget_full_at,
  'spray_budget_full_at', s.spray_budget_full_at,
  'episode_started_at', s.episode_started_at,
  'episode_count', coalesce(s.episode_count, 0),
  'other_failed_accounts', other_failed_accounts,
  'version', CASE WHEN s.tenant_id IS NOT NULL THEN jsonb_build_object(
    'xmin', xmin::text,
    'oldest_failed_at', (SELECT min(a.value::timestamptz)::text FROM jsonb_each_text(s.failed_accounts) a),
    'own_failed_at', s.failed_accounts->>identifier,
    'updated_at', s.updated_at::text) END);

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
  v_failed boolean;
  v_since timestamptz;
  v_version jsonb;
  v_next jsonb;
  v_expected_others integer;
  -- The row as read under its lock (the slow path), and its other failed accounts within the window.
  v_throttle ip_throttles;
  v_xmin xid;
  v_others integer;
  v_create boolean;
  v_created boolean := false;
  -- 'fast': written on the version the snapshot read; 'locked': written after reading the row locked.
  v_wrote text;
  v_pair account_network_lockouts;
  v_stale jsonb := '{}';
  v_answer jsonb;
BEGIN
  IF v_tenant IS NULL OR v_now IS NULL OR v_network IS NULL OR v_identifier IS NULL THEN
    RAISE EXCEPTION 'append_login_attempt needs tenant_id, now, defence.network and defence.identifier' USING ERRCODE = '22023';
  END IF;

  -- A PL/pgSQL expression is set up again in every transaction that evaluates it: the path of a failure on
  -- the version read evaluates few, the rest only when it is not taken.
  IF t IS NOT NULL THEN
    v_failed := coalesce((t->>'failed')::boolean, false);
    IF NOT v_failed AND t->'next' = t->'expected' THEN
      -- Changes nothing: one statement, one snapshot, no lock.
      v_since := (t->>'since')::timestamptz;
      v_expected_others := (t->>'expected_other_accounts')::int;
      SELECT s.tenant_id, s.budget_full_at, s.spray_budget_full_at, s.episode_started_at, coalesce(s.episode_count, 0), s.failed_accounts, s.updated_at, s.xmin,
             (SELECT count(*)::int FROM jsonb_each_text(s.failed_accounts) a WHERE a.key <> v_identifier AND a.value::timestamptz > v_since)
      INTO v_throttle.tenant_id, v_throttle.budget_full_at, v_throttle.spray_budget_full_at, v_throttle.episode_started_at, v_throttle.episode_count,
           v_throttle.failed_accounts, v_throttle.updated_at, v_xmin, v_others
      FROM (SELECT 1) AS one
      LEFT JOIN ip_throttles s ON s.tenant_id = v_tenant AND s.network = v_network;
      IF NOT ip_throttle_is_expected(v_throttle, v_others, t->'expected', v_expected_others) THEN
        v_stale := jsonb_build_object('throttle', ip_throttle_snapshot_json(v_throttle, v_xmin, v_others, v_identifier));
      END IF;
    ELSE
      v_version := t->'version';
      IF jsonb_typeof(v_version) = 'object' THEN
        -- The version the attempt read, nothing aged out since: its state and accounts are those decided on.
        UPDATE ip_throttles s SET
          budget_full_at = (t->'next'->>'budget_full_at')::timestamptz,
          spray_budget_full_at = (t->'next'->>'spray_budget_full_at')::timestamptz,
          episode_started_at = (t->'next'->>'episode_started_at')::timestamptz,
          episode_count = (t->'next'->>'episode_count')::int,
          failed_accounts = CASE WHEN v_failed THEN s.failed_accounts || jsonb_build_object(v_identifier, v_now) ELSE s.failed_accounts END,
          updated_at = v_now
        WHERE s.tenant_id = v_tenant AND s.network = v_network AND s.xmin = (v_version->>'xmin')::xid
          AND coalesce((v_version->>'oldest_failed_at')::timestamptz > (t->>'since')::timestamptz, true);
        v_wrote := CASE WHEN FOUND THEN 'fast' END;
      END IF;
    END IF;
    IF v_wrote IS NULL AND (v_failed OR t->'next' <> t->'expected') THEN
      v_next := t->'next';
      -- Decided on a network without a row: its first change creates it.
      v_create := jsonb_typeof(v_version) IS DISTINCT FROM 'object';
      LOOP
        IF v_create THEN
          -- A concurrent creator makes this insert wait for its commit and do nothing.
          INSERT INTO ip_throttles (tenant_id, network, budget_full_at, spray_budget_full_at, episode_started_at, episode_count, failed_accounts, updated_at)
          VALUES (v_tenant, v_network, (v_next->>'budget_full_at')::timestamptz, (v_next->>'spray_budget_full_at')::timestamptz,
                  (v_next->>'episode_started_at')::timestamptz, (v_next->>'episode_count')::int,
                  CASE WHEN v_failed THEN jsonb_build_object(v_identifier, v_now) ELSE '{}' END, v_now)
          ON CONFLICT ON CONSTRAINT ip_throttles_pkey DO NOTHING;
          v_created := FOUND;
          EXIT WHEN v_created;
        END IF;
        -- Another version, or created meanwhile: locked and read, as committed by whoever held it before.
        v_since := (t->>'since')::timestamptz;
        v_expected_others := (t->>'expected_other_accounts')::int;
        SELECT s.tenant_id, s.budget_full_at, s.spray_budget_full_at, s.episode_started_at, s.episode_count, s.failed_accounts, s.updated_at, s.xmin,
               (SELECT count(*)::int FROM jsonb_each_text(s.failed_accounts) a WHERE a.key <> v_identifier AND a.value::timestamptz > v_since)
        INTO v_throttle.tenant_id, v_throttle.budget_full_at, v_throttle.spray_budget_full_at, v_throttle.episode_started_at, v_throttle.episode_count,
             v_throttle.failed_accounts, v_throttle.updated_at, v_xmin, v_others
        FROM ip_throttles s WHERE s.tenant_id = v_tenant AND s.network = v_network FOR UPDATE;
        -- No row: the empty state, and no failed accounts.
        v_create := NOT FOUND;
        IF v_create THEN
          v_throttle := NULL;
          v_throttle.episode_count := 0;
          v_others := 0;
        END IF;
        -- Decided on something else, the attempt is stale; else, as decided on after all (a row created
        -- meanwhile and removed again, say), the write is tried again.
        IF NOT ip_throttle_is_expected(v_throttle, v_others, t->'expected', v_expected_others) THEN
          v_stale := jsonb_build_object('throttle', ip_throttle_snapshot_json(v_throttle, v_xmin, v_others, v_identifier));
          EXIT;
        END IF;
        IF NOT v_create THEN
          -- The new state, and for a failure its account noted and the accounts aged out of the window dropped.
          UPDATE ip_throttles s SET
            budget_full_at = (v_next->>'budget_full_at')::timestamptz,
            spray_budget_full_at = (v_next->>'spray_budget_full_at')::timestamptz,
            episode_started_at = (v_next->>'episode_started_at')::timestamptz,
            episode_count = (v_next->>'episode_count')::int,
            failed_accounts = CASE WHEN v_failed THEN
                (SELECT coalesce(jsonb_object_agg(a.key, a.value), '{}') FROM jsonb_each_text(s.failed_accounts) a
                 WHERE a.key <> v_identifier AND a.value::timestamptz > v_since) || jsonb_build_object(v_identifier, v_now)
              ELSE s.failed_accounts END,
            updated_at = v_now
          WHERE s.tenant_id = v_tenant AND s.network = v_network;
          v_wrote := 'locked';
          EXIT;
        END IF;
      END LOOP;
    END IF;
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
    ELSIF v_wrote = 'locked' THEN
      UPDATE ip_throttles SET
        budget_full_at = v_throttle.budget_full_at,
        spray_budget_full_at = v_throttle.spray_budget_full_at,
        episode_started_at = v_throttle.episode_started_at,
        episode_count = v_throttle.episode_count,
        failed_accounts = v_throttle.failed_accounts,
        updated_at = v_throttle.updated_at
      WHERE tenant_id = v_tenant AND network = v_network;
    ELSIF v_wrote = 'fast' THEN
      -- The version written over had the expected state, the account's entry the snapshot read, and
      -- nothing else of failed_accounts was changed.
      UPDATE ip_throttles SET
        budget_full_at = (t->'expected'->>'budget_full_at')::timestamptz,
        spray_budget_full_at = (t->'expected'->>'spray_budget_full_at')::timestamptz,
        episode_started_at = (t->'expected'->>'episode_started_at')::timestamptz,
        episode_count = (t->'expected'->>'episode_count')::int,
        failed_accounts = CASE WHEN NOT v_failed THEN failed_accounts
                               WHEN v_version->>'own_failed_at' IS NULL THEN failed_accounts - v_identifier
                               ELSE failed_accounts || jsonb_build_object(v_identifier, v_version->'own_failed_at') END,
        updated_at = (v_version->>'updated_at')::timestamptz
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

-- No longer used: the stale answer carries the version too (ip_throttle_snapshot_json).
DROP FUNCTION ip_throttle_state_json(ip_throttles, integer);
