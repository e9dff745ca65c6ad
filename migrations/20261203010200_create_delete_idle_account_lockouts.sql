-- Lockout rows no longer needed are removed by the retention job. A row is idle when its account is not
-- locked, its failure window has closed and its escalation memory (the caller passes it: the policy's
-- LOCKOUT_ESCALATION_MEMORY_SECONDS) has run out: the policy then decides on it exactly as on no row at all.
-- Rows are kept per attempted identifier, so without this every identifier ever tried, accounts that
-- never existed included, stayed forever with its raw text. The events keep the history.
CREATE OR REPLACE FUNCTION delete_idle_account_lockouts(p_tenant_id uuid, p_escalation_memory_seconds integer)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  v_now timestamptz := now();
  v_window interval;
  v_deleted bigint;
BEGIN
  SELECT make_interval(secs => t.lockout_window_seconds) INTO v_window FROM tenants t WHERE t.id = p_tenant_id;
  IF v_window IS NULL THEN
    RETURN 0;
  END IF;
  -- A row a login changes meanwhile is re-checked as committed before it goes (READ COMMITTED re-evaluates
  -- the condition on the row's newest version): a new failure keeps its row.
  DELETE FROM account_lockouts l
  WHERE l.tenant_id = p_tenant_id
    AND coalesce(l.account_locked_until, '-infinity') <= v_now
    AND coalesce(l.window_started_at, '-infinity') <= v_now - v_window
    AND coalesce(l.last_locked_at, '-infinity') < v_now - make_interval(secs => p_escalation_memory_seconds);
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END
$$;

REVOKE ALL ON FUNCTION delete_idle_account_lockouts(uuid, integer) FROM PUBLIC;

INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('retention', 'function', 'delete_idle_account_lockouts(uuid,integer)', 'EXECUTE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
