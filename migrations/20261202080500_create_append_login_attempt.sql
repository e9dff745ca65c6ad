-- A login attempt's defence state, written in the same call as its events: append_login_attempt() takes the
-- attempt as append_auth_events() does, plus a `defence` object, and composes with it (so either can change
-- without the other):
--   defence: { network, identifier,
--              throttle?: { expected: {state}, expected_other_accounts, since, next: {state}, failed },
--              network_lockout?: { expected: {state}, next: {state} },
--              remember_network }
-- The client decided with the pure throttle and lockout policy on states it read without a lock. Here the
-- network's throttle row, then the account's row for that network, are locked (in that order, always
-- before append_auth_events' lockout and chain-head rows) and re-checked: when either differs from what
-- the client decided on (the throttle's distinct failed accounts since `since` included), nothing is
-- written and the answer is {status: 'stale_defence', throttle?, network_lockout?} with the states found.
-- Otherwise append_auth_events() appends the events (and answers stale or duplicate itself), and then the
-- new states are written: all of it commits together or not at all.

CREATE OR REPLACE FUNCTION ip_throttle_state_json(s ip_throttles, other_failed_accounts integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object(
  'budget_full_at', s.budget_full_at,
  'spray_budget_full_at', s.spray_budget_full_at,
  'episode_started_at', s.episode_started_at,
  'episode_count', s.episode_count,
  'other_failed_accounts', other_failed_accounts);

CREATE OR REPLACE FUNCTION account_network_lockout_state_json(s account_network_lockouts) RETURNS jsonb
LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object(
  'failed_login_attempts', s.failed_login_attempts,
  'window_started_at', s.window_started_at,
  'last_failed_at', s.last_failed_at,
  'account_locked_until', s.account_locked_until,
  'lockout_count', s.lockout_count,
  'last_locked_at', s.last_locked_at);

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
  v_throttle ip_throttles;
  v_others integer;
  v_pair account_network_lockouts;
  v_stale jsonb := '{}';
  v_answer jsonb;
BEGIN
  IF v_tenant IS NULL OR v_now IS NULL OR v_network IS NULL OR v_identifier IS NULL THEN
    RAISE EXCEPTION 'append_login_attempt needs tenant_id, now, defence.network and defence.identifier' USING ERRCODE = '22023';
  END IF;

  IF t IS NOT NULL THEN
    INSERT INTO ip_throttles (tenant_id, network) VALUES (v_tenant, v_network)
    ON CONFLICT ON CONSTRAINT ip_throttles_pkey DO NOTHING;
    SELECT * INTO v_throttle FROM ip_throttles WHERE tenant_id = v_tenant AND network = v_network FOR UPDATE;
    -- A new statement, a new snapshot: it sees the failures committed by whoever held the lock before.
    SELECT count(*)::int INTO v_others FROM ip_failed_accounts
    WHERE tenant_id = v_tenant AND network = v_network AND identifier <> v_identifier AND last_failed_at > v_since;
    IF v_throttle.budget_full_at IS DISTINCT FROM (t->'expected'->>'budget_full_at')::timestamptz
       OR v_throttle.spray_budget_full_at IS DISTINCT FROM (t->'expected'->>'spray_budget_full_at')::timestamptz
       OR v_throttle.episode_started_at IS DISTINCT FROM (t->'expected'->>'episode_started_at')::timestamptz
       OR v_throttle.episode_count IS DISTINCT FROM (t->'expected'->>'episode_count')::int
       OR v_others IS DISTINCT FROM (t->>'expected_other_accounts')::int THEN
      v_stale := v_stale || jsonb_build_object('throttle', ip_throttle_state_json(v_throttle, v_others));
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

  IF v_stale <> '{}' THEN
    RETURN v_stale || jsonb_build_object('status', 'stale_defence');
  END IF;

  v_answer := append_auth_events(p_attempt - 'defence');
  IF v_answer->>'status' <> 'appended' THEN
    RETURN v_answer;
  END IF;

  IF t IS NOT NULL THEN
    UPDATE ip_throttles SET
      budget_full_at = (t->'next'->>'budget_full_at')::timestamptz,
      spray_budget_full_at = (t->'next'->>'spray_budget_full_at')::timestamptz,
      episode_started_at = (t->'next'->>'episode_started_at')::timestamptz,
      episode_count = (t->'next'->>'episode_count')::int,
      updated_at = v_now
    WHERE tenant_id = v_tenant AND network = v_network;
    IF (t->>'failed')::boolean THEN
      INSERT INTO ip_failed_accounts (tenant_id, network, identifier, last_failed_at)
      VALUES (v_tenant, v_network, v_identifier, v_now)
      ON CONFLICT ON CONSTRAINT ip_failed_accounts_pkey DO UPDATE SET last_failed_at = EXCLUDED.last_failed_at;
      DELETE FROM ip_failed_accounts
      WHERE tenant_id = v_tenant AND network = v_network AND identifier <> v_identifier AND last_failed_at <= v_since;
    END IF;
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

-- The runtime role reads the defence state (the snapshot a login decides on) and writes it only here.
INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'ip_throttles', 'SELECT'),
  ('runtime', 'table', 'ip_failed_accounts', 'SELECT'),
  ('runtime', 'table', 'account_known_networks', 'SELECT'),
  ('runtime', 'table', 'account_network_lockouts', 'SELECT'),
  ('runtime', 'function', 'append_login_attempt(jsonb)', 'EXECUTE'),
  ('auditor', 'table', 'ip_throttles', 'SELECT')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
