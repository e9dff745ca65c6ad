-- Least-privilege roles and the one way to append to the trail.
--
-- Four roles, whose names are configured (see authtrail_apply_roles, run by `authtrail migrate` after every
-- migration run, so that renamed roles and tables added later get their grants):
--   owner      owns every table and function, runs migrations;
--   runtime    the service, the relay and the read-only commands: appends only through append_auth_events();
--   retention  the only role that may execute purge_expired_auth_logs();
--   auditor    SELECT on the audit tables, for verification and export tools.
-- What each role may do is data, in authtrail_role_grants: a later migration that adds a table adds its rows.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE IF NOT EXISTS authtrail_role_grants (
  role_kind    text NOT NULL CONSTRAINT authtrail_role_grants_role_known CHECK (role_kind IN ('runtime', 'retention', 'auditor')),
  object_kind  text NOT NULL CONSTRAINT authtrail_role_grants_object_known CHECK (object_kind IN ('table', 'function', 'sequence')),
  -- A table or sequence name, or a function's signature as regprocedure prints it: append_auth_events(jsonb).
  object_name  text NOT NULL,
  privileges   text NOT NULL CONSTRAINT authtrail_role_grants_privileges_words CHECK (privileges ~ '^[A-Z]+( *, *[A-Z]+)*$'),
  CONSTRAINT authtrail_role_grants_pkey PRIMARY KEY (role_kind, object_kind, object_name)
);

-- The names the roles were last applied with, so that a start-up check can name the owner.
CREATE TABLE IF NOT EXISTS authtrail_roles (
  role_kind  text PRIMARY KEY CONSTRAINT authtrail_roles_kind_known CHECK (role_kind IN ('owner', 'runtime', 'retention', 'auditor')),
  role_name  name NOT NULL
);

INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'tenants', 'SELECT, INSERT'),
  ('runtime', 'table', 'organisations', 'SELECT, INSERT'),
  ('runtime', 'table', 'users', 'SELECT, INSERT'),
  ('runtime', 'table', 'account_lockouts', 'SELECT, INSERT, UPDATE'),
  ('runtime', 'table', 'chain_heads', 'SELECT'),
  ('runtime', 'table', 'auth_logs', 'SELECT'),
  ('runtime', 'table', 'chain_checkpoints', 'SELECT, INSERT'),
  ('runtime', 'table', 'outbox', 'SELECT, DELETE'),
  ('runtime', 'table', 'outbox_cursors', 'SELECT, INSERT, UPDATE, DELETE'),
  ('runtime', 'table', 'outbox_dead_letters', 'SELECT, INSERT, UPDATE'),
  ('runtime', 'table', 'schema_migrations', 'SELECT'),
  ('runtime', 'function', 'append_auth_events(jsonb)', 'EXECUTE'),
  ('retention', 'table', 'tenants', 'SELECT'),
  ('retention', 'table', 'chain_heads', 'SELECT'),
  ('retention', 'table', 'auth_logs', 'SELECT'),
  ('retention', 'table', 'chain_checkpoints', 'SELECT, INSERT, UPDATE'),
  ('retention', 'table', 'schema_migrations', 'SELECT'),
  ('retention', 'function', 'purge_expired_auth_logs(uuid,timestamp with time zone)', 'EXECUTE'),
  ('retention', 'function', 'append_auth_events(jsonb)', 'EXECUTE'),
  ('auditor', 'table', 'tenants', 'SELECT'),
  ('auditor', 'table', 'organisations', 'SELECT'),
  ('auditor', 'table', 'chain_heads', 'SELECT'),
  ('auditor', 'table', 'auth_logs', 'SELECT'),
  ('auditor', 'table', 'chain_checkpoints', 'SELECT'),
  ('auditor', 'table', 'schema_migrations', 'SELECT')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;

-- Creates the roles that do not exist yet (LOGIN, no password: the operator sets one, or uses certificates),
-- gives every table, sequence and function of the schema to the owner, and grants exactly what
-- authtrail_role_grants lists: every other privilege of the three roles on the schema's objects is revoked.
-- Idempotent, and safe when several databases of one cluster run it at once (roles are cluster-wide).
CREATE OR REPLACE FUNCTION authtrail_apply_roles(p_owner name, p_runtime name, p_retention name, p_auditor name)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_role name;
  v_kind text;
  r record;
BEGIN
  IF cardinality(ARRAY(SELECT DISTINCT x FROM unnest(ARRAY[p_owner, p_runtime, p_retention, p_auditor]) AS x)) <> 4 THEN
    RAISE EXCEPTION 'the owner, runtime, retention and auditor roles must be four different roles' USING ERRCODE = '22023';
  END IF;
  FOREACH v_role IN ARRAY ARRAY[p_owner, p_runtime, p_retention, p_auditor] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', v_role);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created meanwhile by another database's migration
      END;
    END IF;
    IF v_role <> p_owner AND (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = v_role) THEN
      RAISE EXCEPTION 'role % must not be a superuser or bypass row security', v_role USING ERRCODE = '42501';
    END IF;
  END LOOP;

  INSERT INTO authtrail_roles (role_kind, role_name)
  VALUES ('owner', p_owner), ('runtime', p_runtime), ('retention', p_retention), ('auditor', p_auditor)
  ON CONFLICT (role_kind) DO UPDATE SET role_name = EXCLUDED.role_name;

  FOR r IN
    SELECT c.oid::regclass AS obj, c.relkind FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = p_owner)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE WHEN r.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.obj, p_owner);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS obj FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
      AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = p_owner)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO %I', r.obj, p_owner);
  END LOOP;

  -- Functions that run with the owner's rights are executable only by whom authtrail_role_grants says.
  FOR r IN
    SELECT p.oid::regprocedure AS obj FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.obj);
  END LOOP;
  EXECUTE format('REVOKE ALL ON FUNCTION authtrail_apply_roles(name, name, name, name) FROM PUBLIC');

  FOREACH v_role IN ARRAY ARRAY[p_runtime, p_retention, p_auditor] LOOP
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', v_role);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', v_role);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM %I', v_role);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', v_role);
  END LOOP;

  FOR r IN SELECT * FROM authtrail_role_grants ORDER BY role_kind, object_kind, object_name LOOP
    v_role := CASE r.role_kind WHEN 'runtime' THEN p_runtime WHEN 'retention' THEN p_retention ELSE p_auditor END;
    IF r.object_kind = 'function' THEN
      EXECUTE format('GRANT %s ON FUNCTION %s TO %I', r.privileges, r.object_name::regprocedure, v_role);
    ELSE
      EXECUTE format('GRANT %s ON %s %s TO %I', r.privileges, upper(r.object_kind), r.object_name::regclass, v_role);
    END IF;
  END LOOP;
END
$$;

-- The append-only guard no longer trusts a setting any session can change: a DELETE passes only when it
-- runs with the table owner's rights (inside purge_expired_auth_logs, which only the retention role may
-- execute) and that function has set its marker. UPDATE and TRUNCATE are always refused.
CREATE OR REPLACE FUNCTION auth_logs_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND current_setting('authtrail.retention_purge', true) = 'on'
     AND current_user = (SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = TG_RELID) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'auth_logs is append-only (% rejected)', TG_OP USING ERRCODE = 'AT001';
END
$$;

-- A tenant created by the runtime role gets its chain heads, which that role may not write itself.
ALTER FUNCTION tenants_create_chain_heads() SECURITY DEFINER;
ALTER FUNCTION tenants_create_chain_heads() SET search_path = pg_catalog, public, pg_temp;

ALTER FUNCTION purge_expired_auth_logs(uuid, timestamptz) SECURITY DEFINER;
ALTER FUNCTION purge_expired_auth_logs(uuid, timestamptz) SET search_path = pg_catalog, public, pg_temp;

-- No NOTIFY per transaction: pg_notify takes a cluster-wide lock held through the commit's WAL flush, which
-- queued every commit behind the others. The relay polls with an adaptive back-off instead.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();

-- The lockout row as the append function reports it to a client whose snapshot was stale.
CREATE OR REPLACE FUNCTION account_lockout_state_json(s account_lockouts) RETURNS jsonb
LANGUAGE sql IMMUTABLE
RETURN jsonb_build_object(
  'failed_login_attempts', s.failed_login_attempts,
  'window_started_at', s.window_started_at,
  'last_failed_at', s.last_failed_at,
  'account_locked_until', s.account_locked_until,
  'lockout_count', s.lockout_count,
  'last_locked_at', s.last_locked_at);

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
      IF v_lockout ? 'expected' AND (
           v_state.failed_login_attempts IS DISTINCT FROM (v_lockout->'expected'->>'failed_login_attempts')::int
        OR v_state.window_started_at IS DISTINCT FROM (v_lockout->'expected'->>'window_started_at')::timestamptz
        OR v_state.last_failed_at IS DISTINCT FROM (v_lockout->'expected'->>'last_failed_at')::timestamptz
        OR v_state.account_locked_until IS DISTINCT FROM (v_lockout->'expected'->>'account_locked_until')::timestamptz
        OR v_state.lockout_count IS DISTINCT FROM (v_lockout->'expected'->>'lockout_count')::int
        OR v_state.last_locked_at IS DISTINCT FROM (v_lockout->'expected'->>'last_locked_at')::timestamptz) THEN
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
