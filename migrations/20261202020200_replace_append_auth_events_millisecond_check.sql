-- The append function compares the lockout state to the millisecond. The client reads instants through a
-- client whose dates have millisecond precision, so a state written with microseconds (by now(), in SQL)
-- never matched the snapshot and the login decided again until it gave up. Same function otherwise.

-- The lockout row as the append function reports it to a client whose snapshot was stale.
CREATE OR REPLACE FUNCTION account_lockout_state_json(s account_lockouts) RETURNS jsonb
LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object(
  'failed_login_attempts', s.failed_login_attempts,
  'window_started_at', date_trunc('milliseconds', s.window_started_at),
  'last_failed_at', date_trunc('milliseconds', s.last_failed_at),
  'account_locked_until', date_trunc('milliseconds', s.account_locked_until),
  'lockout_count', s.lockout_count,
  'last_locked_at', date_trunc('milliseconds', s.last_locked_at));

-- Appends events of one chain, and optionally an account's new lockout state, in one call: the runtime
-- role's only way to write the trail. The attempt is one JSON object, so that a later migration can add
-- to it (a throttle, say) without changing the signature:
--   { tenant_id, shard, now,
--     events: [{ the event's fields, canonical_head, canonical_tail }],
--     lockout?: { identifier, user_id, next: {state}, snapshot: {outbox snapshot}, expected?: {state} } }
-- Each event's canonical bytes are canonical_head || seq || canonical_tail (RFC 8785 puts "seq" between
-- "risk" and "shard"): the sequence number, the three digests, prev_hash and chain_hash are computed here,
-- under the chain head's row lock, so a caller cannot choose any of them.
-- With `expected`, the lockout row is re-checked under its row lock against the state the client decided
-- on; when it differs nothing is written and the answer is {status: 'stale', lockout: current state}. An
-- event id recorded already answers {status: 'duplicate'} and writes nothing. Otherwise each chain-head
-- and lockout row is updated once and the answer is {status: 'appended', events: [links]}.
CREATE OR REPLACE FUNCTION append_auth_events(p_attempt jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_tenant uuid := (p_attempt->>'tenant_id')::uuid;
  v_shard smallint := (p_attempt->>'shard')::smallint;
  v_now timestamptz := (p_attempt->>'now')::timestamptz;
  v_events jsonb := p_attempt->'events';
  v_lockout jsonb := p_attempt->'lockout';
  v_next jsonb;
  v_state account_lockouts;
  v_found boolean;
  v_seq bigint;
  v_prev bytea;
  v_canonical bytea;
  v_sha256 bytea;
  v_sha512 bytea;
  v_sha3 bytea;
  v_link bytea;
  v_count int;
  v_i int := 0;
  v_links jsonb := '[]';
  e jsonb;
BEGIN
  v_count := jsonb_array_length(v_events);
  IF v_tenant IS NULL OR v_shard IS NULL OR v_now IS NULL OR v_count = 0 THEN
    RAISE EXCEPTION 'append_auth_events needs tenant_id, shard, now and at least one event' USING ERRCODE = '22023';
  END IF;

  IF EXISTS (SELECT 1 FROM auth_logs WHERE id IN (SELECT (x->>'id')::uuid FROM jsonb_array_elements(v_events) AS x)) THEN
    RETURN jsonb_build_object('status', 'duplicate');
  END IF;

  IF v_lockout IS NOT NULL THEN
    v_next := v_lockout->'next';
    LOOP
      SELECT * INTO v_state FROM account_lockouts
      WHERE tenant_id = v_tenant AND identifier = v_lockout->>'identifier' FOR UPDATE;
      v_found := FOUND;
      IF NOT v_found THEN
        v_state := NULL;
        v_state.failed_login_attempts := 0;
        v_state.lockout_count := 0;
      END IF;
      -- Instants compare to the millisecond: the client's clock and its reads of the row have no finer grain.
      IF v_lockout ? 'expected' AND (
           v_state.failed_login_attempts IS DISTINCT FROM (v_lockout->'expected'->>'failed_login_attempts')::int
        OR date_trunc('milliseconds', v_state.window_started_at) IS DISTINCT FROM (v_lockout->'expected'->>'window_started_at')::timestamptz
        OR date_trunc('milliseconds', v_state.last_failed_at) IS DISTINCT FROM (v_lockout->'expected'->>'last_failed_at')::timestamptz
        OR date_trunc('milliseconds', v_state.account_locked_until) IS DISTINCT FROM (v_lockout->'expected'->>'account_locked_until')::timestamptz
        OR v_state.lockout_count IS DISTINCT FROM (v_lockout->'expected'->>'lockout_count')::int
        OR date_trunc('milliseconds', v_state.last_locked_at) IS DISTINCT FROM (v_lockout->'expected'->>'last_locked_at')::timestamptz) THEN
        RETURN jsonb_build_object('status', 'stale', 'lockout', account_lockout_state_json(v_state));
      END IF;
      IF v_found THEN
        UPDATE account_lockouts SET
          user_id = (v_lockout->>'user_id')::uuid,
          failed_login_attempts = (v_next->>'failed_login_attempts')::int,
          window_started_at = (v_next->>'window_started_at')::timestamptz,
          last_failed_at = (v_next->>'last_failed_at')::timestamptz,
          account_locked_until = (v_next->>'account_locked_until')::timestamptz,
          lockout_count = (v_next->>'lockout_count')::int,
          last_locked_at = (v_next->>'last_locked_at')::timestamptz,
          updated_at = v_now
        WHERE tenant_id = v_tenant AND identifier = v_lockout->>'identifier';
        EXIT;
      END IF;
      INSERT INTO account_lockouts (tenant_id, identifier, user_id, failed_login_attempts, window_started_at, last_failed_at,
                                    account_locked_until, lockout_count, last_locked_at, updated_at)
      VALUES (v_tenant, v_lockout->>'identifier', (v_lockout->>'user_id')::uuid, (v_next->>'failed_login_attempts')::int,
              (v_next->>'window_started_at')::timestamptz, (v_next->>'last_failed_at')::timestamptz,
              (v_next->>'account_locked_until')::timestamptz, (v_next->>'lockout_count')::int,
              (v_next->>'last_locked_at')::timestamptz, v_now)
      ON CONFLICT ON CONSTRAINT account_lockouts_pkey DO NOTHING;
      EXIT WHEN FOUND;
      -- Another attempt created the row meanwhile: read it under its lock and decide again.
    END LOOP;
  END IF;

  SELECT seq, head_hash INTO v_seq, v_prev FROM chain_heads WHERE tenant_id = v_tenant AND shard = v_shard FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no chain head for tenant % shard %', v_tenant, v_shard USING ERRCODE = '22023';
  END IF;

  FOR e IN SELECT value FROM jsonb_array_elements(v_events) LOOP
    v_i := v_i + 1;
    v_seq := v_seq + 1;
    v_canonical := convert_to((e->>'canonical_head') || v_seq::text || (e->>'canonical_tail'), 'UTF8');
    v_sha256 := sha256(v_canonical);
    v_sha512 := sha512(v_canonical);
    v_sha3 := digest(v_canonical, 'sha3-256');
    v_link := sha256(v_prev || v_sha256);
    INSERT INTO auth_logs (id, tenant_id, organisation_id, shard, seq, event_type, channel, user_id, identifier, ip, user_agent,
                           device_id, occurred_at, outcome, reason, risk, metadata, token_jti, actor_id, expires_at,
                           digest_sha256, digest_sha512, digest_sha3_256, prev_hash, chain_hash)
    VALUES ((e->>'id')::uuid, v_tenant, (e->>'organisation_id')::uuid, v_shard, v_seq, e->>'event_type', e->>'channel',
            (e->>'user_id')::uuid, e->>'identifier', e->>'ip', e->>'user_agent', e->>'device_id', (e->>'occurred_at')::timestamptz,
            e->>'outcome', e->>'reason', e->'risk', e->'metadata', e->>'token_jti', (e->>'actor_id')::uuid,
            (e->>'expires_at')::timestamptz, v_sha256, v_sha512, v_sha3, v_prev, v_link);
    INSERT INTO outbox (event_id, tenant_id, shard, seq, payload)
    VALUES ((e->>'id')::uuid, v_tenant, v_shard, v_seq, jsonb_build_object(
      'event', (e - 'canonical_head' - 'canonical_tail') || jsonb_build_object(
        'shard', v_shard, 'seq', v_seq, 'prev_hash', encode(v_prev, 'hex'), 'chain_hash', encode(v_link, 'hex'),
        'digests', jsonb_build_object('sha256', encode(v_sha256, 'hex'), 'sha512', encode(v_sha512, 'hex'), 'sha3_256', encode(v_sha3, 'hex'))),
      'lockout', CASE WHEN v_i = v_count AND v_lockout IS NOT NULL
                      THEN (v_lockout->'snapshot') || jsonb_build_object('shard', v_shard, 'seq', v_seq) END));
    v_links := v_links || jsonb_build_object(
      'seq', v_seq, 'prev_hash', encode(v_prev, 'hex'), 'chain_hash', encode(v_link, 'hex'),
      'sha256', encode(v_sha256, 'hex'), 'sha512', encode(v_sha512, 'hex'), 'sha3_256', encode(v_sha3, 'hex'));
    v_prev := v_link;
  END LOOP;

  UPDATE chain_heads SET seq = v_seq, head_hash = v_prev WHERE tenant_id = v_tenant AND shard = v_shard;
  RETURN jsonb_build_object('status', 'appended', 'events', v_links);
END
$$;
