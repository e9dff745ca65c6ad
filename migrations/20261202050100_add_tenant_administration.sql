-- What the administration API manages without hand-written SQL: each tenant's registration mode (its
-- allowed web origins come with the sessions' migration), each user's status, invitations (the only way a registration chooses an
-- organisation or a role), and the platform operators who create and update tenants.

-- Existing tenants keep the open self-registration they had; new ones default to invitations only.
ALTER TABLE tenants ADD COLUMN registration_mode text NOT NULL DEFAULT 'open'
  CONSTRAINT tenants_registration_mode_known CHECK (registration_mode IN ('open', 'invite', 'closed'));
ALTER TABLE tenants ALTER COLUMN registration_mode SET DEFAULT 'invite';

-- A disabled user cannot log in; the row stays so that the trail keeps pointing at it.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- Keyset pagination of a tenant's users (uuidv7 ids sort by creation).
CREATE INDEX users_tenant_organisation_id_idx ON users (tenant_id, organisation_id, id);

-- One invitation per row: only the SHA-256 digest of its secret is kept; accepted once, before it expires.
CREATE TABLE invitations (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  organisation_id  uuid NOT NULL,
  identifier       text NOT NULL CONSTRAINT invitations_identifier_length CHECK (length(identifier) BETWEEN 1 AND 254),
  role             text NOT NULL CONSTRAINT invitations_role_known CHECK (role IN ('user', 'admin', 'auditor')),
  token_sha256     bytea NOT NULL CONSTRAINT invitations_token_sha256_key UNIQUE,
  invited_by       uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  accepted_at      timestamptz,
  CONSTRAINT invitations_organisation_fkey FOREIGN KEY (tenant_id, organisation_id) REFERENCES organisations (tenant_id, id)
);

-- Platform operators hold a random bearer credential, kept as its SHA-256 digest only.
CREATE TABLE platform_operators (
  id            uuid PRIMARY KEY,
  name          text NOT NULL CONSTRAINT platform_operators_name_key UNIQUE
                  CONSTRAINT platform_operators_name_length CHECK (length(name) BETWEEN 1 AND 100),
  token_sha256  bytea NOT NULL CONSTRAINT platform_operators_token_sha256_key UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);

-- The new event types, added to whatever list the function holds (other migrations extend it too, in
-- whichever order they are applied): the names in the current definition's literals, then ours. A later
-- migration may do the same.
DO $$
DECLARE
  known text[];
BEGIN
  SELECT array_agg(DISTINCT name) INTO known
  FROM regexp_matches(pg_get_functiondef('auth_event_type_known(text)'::regprocedure), '''([^'']*)''', 'g') AS literal,
       regexp_split_to_table(literal[1], '[^a-z0-9_]+') AS name
  WHERE name <> '';
  known := known || ARRAY['tenant_created', 'tenant_plan_changed', 'tenant_settings_changed', 'organisation_created',
    'user_invited', 'user_role_changed', 'user_disabled', 'user_enabled', 'operator_created'];
  SELECT array_agg(DISTINCT t ORDER BY t) INTO known FROM unnest(known) AS t;
  EXECUTE format(
    'CREATE OR REPLACE FUNCTION auth_event_type_known(event_type text) RETURNS boolean '
    'LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN event_type = ANY (%L::text[])', known);
END
$$;

-- A change of a user's role or status, or of a tenant's plan or settings, is made only by recording its
-- event: apply_admin_events() applies what the events say (user_role_changed: from -> to;
-- user_disabled/user_enabled; tenant_plan_changed/tenant_settings_changed: each field from -> to) under
-- the rows' locks, refusing (AT101) when the row no longer holds the event's `from`, and appends the events
-- through append_auth_events() in the same transaction. The runtime role has no UPDATE on users or
-- tenants: it can change them through this function only, so never without the event in the chain.
CREATE OR REPLACE FUNCTION apply_admin_events(p_attempt jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_tenant uuid := (p_attempt->>'tenant_id')::uuid;
  v_now timestamptz := (p_attempt->>'now')::timestamptz;
  e jsonb;
  c record;
  v_user uuid;
  v_rows int;
BEGIN
  FOR e IN SELECT * FROM jsonb_array_elements(p_attempt->'events') LOOP
    IF (e->>'tenant_id')::uuid IS DISTINCT FROM v_tenant THEN
      RAISE EXCEPTION 'apply_admin_events: an event of another tenant' USING ERRCODE = '22023';
    END IF;
    v_user := (e->>'user_id')::uuid;
    CASE e->>'event_type'
      WHEN 'user_role_changed' THEN
        UPDATE users SET role = e->'metadata'->>'to'
        WHERE tenant_id = v_tenant AND id = v_user AND role = e->'metadata'->>'from';
      WHEN 'user_disabled' THEN
        UPDATE users SET disabled_at = v_now WHERE tenant_id = v_tenant AND id = v_user AND disabled_at IS NULL;
      WHEN 'user_enabled' THEN
        UPDATE users SET disabled_at = NULL WHERE tenant_id = v_tenant AND id = v_user AND disabled_at IS NOT NULL;
      WHEN 'tenant_plan_changed', 'tenant_settings_changed' THEN
        PERFORM 1 FROM tenants WHERE id = v_tenant FOR UPDATE;
        FOR c IN SELECT key, value->'from' AS old, value->'to' AS new FROM jsonb_each(e->'metadata'->'changes') LOOP
          IF (SELECT to_jsonb(t)->c.key FROM tenants t WHERE t.id = v_tenant) IS DISTINCT FROM c.old THEN
            RAISE EXCEPTION 'apply_admin_events: tenant % changed meanwhile', c.key USING ERRCODE = 'AT101';
          END IF;
          CASE c.key
            WHEN 'name' THEN UPDATE tenants SET name = c.new #>> '{}' WHERE id = v_tenant;
            WHEN 'registration_mode' THEN UPDATE tenants SET registration_mode = c.new #>> '{}' WHERE id = v_tenant;
            WHEN 'allowed_origins' THEN UPDATE tenants SET allowed_origins = ARRAY(SELECT jsonb_array_elements_text(c.new)) WHERE id = v_tenant;
            WHEN 'retention_days' THEN UPDATE tenants SET retention_days = (c.new #>> '{}')::int WHERE id = v_tenant;
            WHEN 'can_download' THEN UPDATE tenants SET can_download = (c.new #>> '{}')::boolean WHERE id = v_tenant;
            WHEN 'lockout_max_failures' THEN UPDATE tenants SET lockout_max_failures = (c.new #>> '{}')::int WHERE id = v_tenant;
            WHEN 'lockout_window_seconds' THEN UPDATE tenants SET lockout_window_seconds = (c.new #>> '{}')::int WHERE id = v_tenant;
            WHEN 'lockout_base_seconds' THEN UPDATE tenants SET lockout_base_seconds = (c.new #>> '{}')::int WHERE id = v_tenant;
            WHEN 'lockout_multiplier' THEN UPDATE tenants SET lockout_multiplier = (c.new #>> '{}')::int WHERE id = v_tenant;
            WHEN 'lockout_max_seconds' THEN UPDATE tenants SET lockout_max_seconds = (c.new #>> '{}')::int WHERE id = v_tenant;
            ELSE RAISE EXCEPTION 'apply_admin_events: unknown tenant setting %', c.key USING ERRCODE = '22023';
          END CASE;
        END LOOP;
        CONTINUE;
      ELSE
        RAISE EXCEPTION 'apply_admin_events: % is not an administrative change', e->>'event_type' USING ERRCODE = '22023';
    END CASE;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> 1 THEN
      RAISE EXCEPTION 'apply_admin_events: user % changed meanwhile', v_user USING ERRCODE = 'AT101';
    END IF;
  END LOOP;
  RETURN append_auth_events(p_attempt);
END
$$;

-- What the service may do with them (see authtrail_role_grants): it invites and uses invitations up, and
-- changes users and tenants only through apply_admin_events(); operators are only looked up (the
-- bootstrap runs as the owner).
INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'invitations', 'SELECT, INSERT, UPDATE'),
  ('runtime', 'table', 'platform_operators', 'SELECT'),
  ('runtime', 'function', 'apply_admin_events(jsonb)', 'EXECUTE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
