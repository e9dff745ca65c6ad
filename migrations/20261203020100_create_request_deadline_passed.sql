-- Raised by an append made on behalf of a request when the append ends after the request's deadline for
-- writes, so that its statement, and with it the append, rolls back: nothing commits after the moment
-- past which the client may already have been answered 503. SQLSTATE 57014 (query_canceled): the service
-- answers it as the database being unavailable.
CREATE OR REPLACE FUNCTION request_deadline_passed() RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the request''s deadline passed before this append ended; rolled back' USING ERRCODE = '57014';
END
$$;

REVOKE ALL ON FUNCTION request_deadline_passed() FROM PUBLIC;

INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'function', 'request_deadline_passed()', 'EXECUTE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
