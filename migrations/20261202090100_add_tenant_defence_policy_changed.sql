-- tenant_defence_policy_changed: a tenant's defence policy (throttle budgets, allow-list, lockout mode) is
-- changed only by recording the event, like every other administrative change: apply_admin_events() now
-- applies it too (the stored policy must still be the event's `from`, else AT101), so the runtime role,
-- which has no UPDATE on tenants, never changes a policy without its event in the chain.

-- The event type, added to the list auth_event_type_known() holds, whatever other migrations added before
-- it (src/core/event-catalog.ts; a test compares them).
DO $$
DECLARE
  known text[];
BEGIN
  SELECT array_agg(DISTINCT name) INTO known
  FROM regexp_matches(pg_get_functiondef('auth_event_type_known(text)'::regprocedure), '''([^'']*)''', 'g') AS literal,
       regexp_split_to_table(literal[1], '[^a-z0-9_]+') AS name
  WHERE name <> '';
  known := known || ARRAY['tenant_defence_policy_changed'];
  SELECT array_agg(DISTINCT t ORDER BY t) INTO known FROM unnest(known) AS t;
  EXECUTE format(
    'CREATE OR REPLACE FUNCTION auth_event_type_known(event_type text) RETURNS boolean '
    'LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN event_type = ANY (%L::text[])', known);
END
$$;

-- apply_admin_events() as 20261202050100 defined it, with the defence policy branch.
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
      WHEN 'tenant_defence_policy_changed' THEN
        -- The whole policy, validated by the service, replaces the one stored, if that is still the event's `from`.
        UPDATE tenants SET defence_policy = e->'metadata'->'to'
        WHERE id = v_tenant AND defence_policy = e->'metadata'->'from';
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> 1 THEN
          RAISE EXCEPTION 'apply_admin_events: tenant defence_policy changed meanwhile' USING ERRCODE = 'AT101';
        END IF;
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
