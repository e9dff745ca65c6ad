-- A session's rows are written in one place: these two functions, which the login's append call
-- (append_login_attempt_opening_session), a replayed login and a refresh all use, instead of the same
-- inserts written once in SQL and once more in the service.
-- SECURITY INVOKER: they write with the caller's own privileges (the runtime role may insert sessions and
-- tokens and rotate tokens); they add no privilege.

-- Issues a refresh token of a session: the token of it not yet rotated, if any, is rotated by it (one live
-- token per family, RFC 9700 §4.14.2).
CREATE FUNCTION issue_refresh_token(p_tenant uuid, p_session uuid, p_token_hash bytea, p_now timestamptz) RETURNS void
LANGUAGE sql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp
BEGIN ATOMIC
  UPDATE refresh_tokens SET rotated_at = p_now
  WHERE tenant_id = p_tenant AND session_id = p_session AND rotated_at IS NULL;
  INSERT INTO refresh_tokens (token_hash, tenant_id, session_id, issued_at)
  VALUES (p_token_hash, p_tenant, p_session, p_now);
END;

-- Stores a session and issues its first refresh token. p_session: id, user_id, channel, device_id,
-- csrf_hash (hex, web only), created_at, expires_at, refresh_token_hash (hex). A session id already stored
-- (a replayed login) only gets the new CSRF digest, and its token not yet rotated is rotated by the new one.
CREATE FUNCTION open_session(p_tenant uuid, p_session jsonb, p_now timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_session uuid := (p_session->>'id')::uuid;
BEGIN
  IF v_session IS NULL OR p_session->>'refresh_token_hash' IS NULL THEN
    RAISE EXCEPTION 'a session is opened with its id and refresh_token_hash' USING ERRCODE = '22023';
  END IF;
  INSERT INTO auth_sessions (id, tenant_id, user_id, channel, device_id, csrf_hash, created_at, expires_at)
  VALUES (v_session, p_tenant, (p_session->>'user_id')::uuid, p_session->>'channel', p_session->>'device_id',
          decode(p_session->>'csrf_hash', 'hex'), (p_session->>'created_at')::timestamptz, (p_session->>'expires_at')::timestamptz)
  ON CONFLICT (id) DO UPDATE SET csrf_hash = EXCLUDED.csrf_hash;
  PERFORM issue_refresh_token(p_tenant, v_session, decode(p_session->>'refresh_token_hash', 'hex'), p_now);
END
$$;

-- The login's call, as in 20261208010100, now opening the session through open_session().
CREATE OR REPLACE FUNCTION append_login_attempt_opening_session(p_attempt jsonb, p_session jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_answer jsonb;
BEGIN
  IF p_session->>'id' IS NULL OR p_session->>'refresh_token_hash' IS NULL THEN
    RAISE EXCEPTION 'append_login_attempt_opening_session needs the session''s id and refresh_token_hash' USING ERRCODE = '22023';
  END IF;
  v_answer := append_login_attempt(p_attempt);
  IF v_answer->>'status' = 'appended' THEN
    PERFORM open_session((p_attempt->>'tenant_id')::uuid, p_session, (p_attempt->>'now')::timestamptz);
  END IF;
  RETURN v_answer;
END
$$;

REVOKE ALL ON FUNCTION issue_refresh_token(uuid, uuid, bytea, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION open_session(uuid, jsonb, timestamptz) FROM PUBLIC;

INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'function', 'issue_refresh_token(uuid, uuid, bytea, timestamptz)', 'EXECUTE'),
  ('runtime', 'function', 'open_session(uuid, jsonb, timestamptz)', 'EXECUTE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
