-- Address throttle rows no longer needed are removed by the retention job: a network is idle when it is
-- in no throttling episode, both its budgets have refilled completely, and it failed against no account
-- within the tenant's window (the spraying detection's memory). Such a row says nothing the empty state
-- does not, except its count of past episodes, which the ip_throttled events keep. Without this, every
-- address that ever failed once would keep its row forever.
--
-- The window is the tenant's ip_window_seconds; a policy stored without one (written before policies
-- were stored whole) is given the longest window allowed, 7 days, so that no row is removed too early.
CREATE OR REPLACE FUNCTION delete_idle_ip_throttles(p_tenant_id uuid) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz := now();
  v_window interval;
  v_deleted bigint;
BEGIN
  SELECT make_interval(secs => coalesce((t.defence_policy->>'ip_window_seconds')::int, 604800)) INTO v_window
  FROM tenants t WHERE t.id = p_tenant_id;
  IF v_window IS NULL THEN
    RETURN 0;
  END IF;
  -- A row a login changes meanwhile is re-checked as committed before it goes (READ COMMITTED re-evaluates
  -- the condition on the row's newest version): a failure that spent a budget keeps its row. The network's
  -- failed accounts go in the same statement, the foreign key checked at its end.
  WITH gone AS (
    DELETE FROM ip_throttles t
    WHERE t.tenant_id = p_tenant_id
      AND t.episode_started_at IS NULL
      AND coalesce(t.budget_full_at, '-infinity') <= v_now
      AND coalesce(t.spray_budget_full_at, '-infinity') <= v_now
      AND NOT EXISTS (
        SELECT 1 FROM ip_failed_accounts a
        WHERE a.tenant_id = t.tenant_id AND a.network = t.network AND a.last_failed_at > v_now - v_window)
    RETURNING t.tenant_id, t.network
  ), accounts AS (
    DELETE FROM ip_failed_accounts a USING gone WHERE a.tenant_id = gone.tenant_id AND a.network = gone.network
  )
  SELECT count(*) INTO v_deleted FROM gone;
  RETURN v_deleted;
END
$$;

-- purge_expired_auth_logs() as 20261124000300 defined it and 20261202020100 made it (SECURITY DEFINER, a
-- fixed search_path: CREATE OR REPLACE would drop both), removing the tenant's idle throttle rows first.
-- It runs with the owner's rights, so the retention role needs no privilege on the throttle tables.
CREATE OR REPLACE FUNCTION purge_expired_auth_logs(p_tenant_id uuid, p_before timestamptz)
RETURNS TABLE (shard smallint, boundary_seq bigint, boundary_hash bytea, deleted bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET authtrail.retention_purge TO 'on'
AS $$
DECLARE
  v_cutoff timestamptz := LEAST(p_before, now());
  v_shard smallint;
  v_first_kept bigint;
BEGIN
  PERFORM delete_idle_ip_throttles(p_tenant_id);
  FOR v_shard IN SELECT h.shard FROM chain_heads h WHERE h.tenant_id = p_tenant_id ORDER BY h.shard LOOP
    SELECT min(l.seq) INTO v_first_kept FROM auth_logs l
    WHERE l.tenant_id = p_tenant_id AND l.shard = v_shard AND l.expires_at > v_cutoff;

    SELECT l.seq, l.chain_hash INTO boundary_seq, boundary_hash FROM auth_logs l
    WHERE l.tenant_id = p_tenant_id AND l.shard = v_shard AND (v_first_kept IS NULL OR l.seq < v_first_kept)
    ORDER BY l.seq DESC LIMIT 1;
    CONTINUE WHEN NOT FOUND;

    DELETE FROM auth_logs l WHERE l.tenant_id = p_tenant_id AND l.shard = v_shard AND l.seq <= boundary_seq;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    shard := v_shard;
    RETURN NEXT;
  END LOOP;
END
$$;
