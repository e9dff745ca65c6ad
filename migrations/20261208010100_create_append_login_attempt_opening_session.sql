-- A successful login stores its session and the session's first refresh token in the call that records
-- it: one statement, one round trip, instead of BEGIN, the append, the session's inserts and COMMIT. The
-- session is written only when the attempt is appended (not when the call answers stale, duplicate or
-- stale_defence), so that an attempt not recorded leaves no session, and one recorded always has its own.
-- SECURITY INVOKER: the session rows are written with the caller's own privileges (the runtime role may
-- insert and rotate sessions and tokens); the trail only through append_login_attempt(), as before.
--
-- p_session: id, user_id, channel, device_id, csrf_hash (hex, web only), created_at, expires_at,
-- refresh_token_hash (hex). A session id already stored (a replayed login) gets the new CSRF digest, and a
-- token of it not yet rotated is rotated by the new one, as the service's own inserts do.
CREATE FUNCTION append_login_attempt_opening_session(p_attempt jsonb, p_session jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_tenant uuid := (p_attempt->>'tenant_id')::uuid;
  v_now timestamptz := (p_attempt->>'now')::timestamptz;
  v_session uuid := (p_session->>'id')::uuid;
  v_answer jsonb;
BEGIN
  IF v_session IS NULL OR p_session->>'refresh_token_hash' IS NULL THEN
    RAISE EXCEPTION 'append_login_attempt_opening_session needs the session''s id and refresh_token_hash' USING ERRCODE = '22023';
  END IF;
  v_answer := append_login_attempt(p_attempt);
  IF v_answer->>'status' = 'appended' THEN
    INSERT INTO auth_sessions (id, tenant_id, user_id, channel, device_id, csrf_hash, created_at, expires_at)
    VALUES (v_session, v_tenant, (p_session->>'user_id')::uuid, p_session->>'channel', p_session->>'device_id',
            decode(p_session->>'csrf_hash', 'hex'), (p_session->>'created_at')::timestamptz, (p_session->>'expires_at')::timestamptz)
    ON CONFLICT (id) DO UPDATE SET csrf_hash = EXCLUDED.csrf_hash;
    UPDATE refresh_tokens SET rotated_at = v_now
    WHERE tenant_id = v_tenant AND session_id = v_session AND rotated_at IS NULL;
    INSERT INTO refresh_tokens (token_hash, tenant_id, session_id, issued_at)
    VALUES (decode(p_session->>'refresh_token_hash', 'hex'), v_tenant, v_session, v_now);
  END IF;
  RETURN v_answer;
END
$$;

REVOKE ALL ON FUNCTION append_login_attempt_opening_session(jsonb, jsonb) FROM PUBLIC;

INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'function', 'append_login_attempt_opening_session(jsonb, jsonb)', 'EXECUTE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
