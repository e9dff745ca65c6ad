-- A connection lost while an append was being committed leaves it unknown whether the append committed:
-- the server may have received the COMMIT (or the autocommitted call) before the connection went, and may
-- still be running it. To answer such a request truthfully (its attempt recorded, or 503 and nothing
-- written), the service settles the request's writes on another connection before it looks: from then on
-- none of them can commit, and any still running has ended.
--
-- Every append made on behalf of a request first claims the request's write token (a random UUID per
-- request): a transaction-level advisory lock on the token, then a check that the token has not been
-- settled. Settling takes the same lock, which waits for an append still holding it to commit or roll
-- back, and records the token, so that an append arriving later finds it settled and writes nothing. The
-- lock orders the two either way; what the lookup then reads is final.
CREATE TABLE IF NOT EXISTS settled_request_writes (
  token       uuid PRIMARY KEY,
  settled_at  timestamptz NOT NULL DEFAULT now()
);

-- The advisory lock class of request writes ('auwr'); the token's hash is the object.
CREATE OR REPLACE FUNCTION claim_request_write(p_token uuid)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1635088242, hashtext(p_token::text));
  RETURN NOT EXISTS (SELECT 1 FROM settled_request_writes s WHERE s.token = p_token);
END
$$;

CREATE OR REPLACE FUNCTION settle_request_write(p_token uuid)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1635088242, hashtext(p_token::text));
  INSERT INTO settled_request_writes (token) VALUES (p_token) ON CONFLICT (token) DO NOTHING;
  -- A token matters only while its request's appends may still arrive (seconds); settlements are rare
  -- (a connection lost during a commit), so the old ones go here, not in a job.
  DELETE FROM settled_request_writes s WHERE s.settled_at < now() - interval '1 day';
END
$$;

REVOKE ALL ON FUNCTION claim_request_write(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION settle_request_write(uuid) FROM PUBLIC;

INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'function', 'claim_request_write(uuid)', 'EXECUTE'),
  ('runtime', 'function', 'settle_request_write(uuid)', 'EXECUTE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
