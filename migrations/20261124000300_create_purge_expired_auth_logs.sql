-- Retention: deletes, per chain of one tenant, the longest prefix of events that have all expired, and
-- returns each chain's new boundary (the last deleted event's seq and chain hash) for its checkpoint.
-- Only a prefix is ever removed, so what remains still links up from the boundary; an expired event
-- behind a younger one (the plan's retention was lengthened in between) waits until the prefix reaches it.
--
-- The cut-off is never later than the transaction's now(): no caller can delete an unexpired event.
-- The append-only trigger lets DELETE through only while authtrail.retention_purge is 'on', and the
-- SET clause scopes that setting to this function's execution alone.
CREATE OR REPLACE FUNCTION purge_expired_auth_logs(p_tenant_id uuid, p_before timestamptz)
RETURNS TABLE (shard smallint, boundary_seq bigint, boundary_hash bytea, deleted bigint)
LANGUAGE plpgsql
SET authtrail.retention_purge TO 'on'
AS $$
DECLARE
  v_cutoff timestamptz := LEAST(p_before, now());
  v_shard smallint;
  v_first_kept bigint;
BEGIN
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
