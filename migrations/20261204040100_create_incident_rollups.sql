-- Rollups of the incident report's activity sections (totals, accounts and source addresses ranked), so
-- that a long window reads pre-aggregated rows for its whole hours and the raw trail only for the partial
-- hours at its ends.
--
-- One row per (organisation, identifier, ip) with attempts in a bucket: the counts and first/last times
-- the report's per-pair grouping computes from raw events. Sums, minima and maxima merge exactly across
-- buckets, and the report's distinct counts ("distinct IPs of an account") are counted from the merged
-- pairs, so the rolled-up report equals the full scan.
--
-- Buckets are dyadic: level k covers 2^k hours starting at a multiple of 2^k hours since the epoch (UTC),
-- up to level 10 (1,024 hours, about 43 days). Any range of whole hours is the union of at most two
-- buckets per level, and a month-long window reads a few buckets of at most one row per active pair each,
-- instead of one row per attempt. Level 0 is folded from auth_logs; level k from the two halves at k - 1.
CREATE TABLE incident_rollups (
  tenant_id         uuid NOT NULL REFERENCES tenants (id),
  level             smallint NOT NULL CONSTRAINT incident_rollups_level_range CHECK (level BETWEEN 0 AND 10),
  bucket_start      timestamptz NOT NULL,
  organisation_id   uuid,
  identifier        text,
  ip                text,
  -- max(user_id::text) over the pair's attempts, as the report takes it.
  user_id           text,
  failures          integer NOT NULL,
  successes         integer NOT NULL,
  lockouts          integer NOT NULL,
  first_failure_at  timestamptz,
  last_failure_at   timestamptz,
  first_seen_at     timestamptz NOT NULL,
  last_seen_at      timestamptz NOT NULL,
  -- Chain positions (an identifier's attempts all live in one chain, so these order them): the first
  -- failure and the last success. They let the report skip, exactly, accounts none of whose successes
  -- follows enough of their failures (no suspicious success possible).
  min_failure_seq   bigint,
  max_success_seq   bigint
);

CREATE INDEX incident_rollups_bucket_idx ON incident_rollups (tenant_id, level, bucket_start);

-- Per tenant: hours in [valid_from, folded_until) are folded, at every level whose bucket lies inside.
-- folded_until only moves forward, one hour per transaction together with that hour's rows; valid_from
-- moves forward when retention deletes events the rollups still count (the hours before it are then read
-- from the trail, which is what the full scan reads).
CREATE TABLE incident_rollup_watermarks (
  tenant_id     uuid PRIMARY KEY REFERENCES tenants (id),
  valid_from    timestamptz NOT NULL,
  folded_until  timestamptz NOT NULL,
  CONSTRAINT incident_rollup_watermarks_order CHECK (valid_from <= folded_until)
);

-- The partial hours and the throttle section read the trail; refused attempts (reason ip_throttled) are a
-- small part of the failures, and without this index the throttle section would read every failure of a
-- long window through the event-type index.
CREATE INDEX IF NOT EXISTS auth_logs_tenant_throttle_time_idx
  ON auth_logs (tenant_id, occurred_at) WHERE event_type = 'ip_throttled' OR reason = 'ip_throttled';

-- Folds the tenant's next closed hour, if its end is at least p_lag in the past: level 0 from the trail,
-- then each level whose bucket that hour completes, then the watermark, all in the caller's transaction
-- (one call is one transaction unless the caller opened one). The watermark row is locked first, so two
-- folders never fold the same hour, and a retry after a crash or a lost answer folds the next hour, never
-- the same one twice. Returns the hour folded, or NULL when none is due.
--
-- SECURITY DEFINER: the runtime role may run the fold but not write the tables, so the rollups can only
-- hold what the trail holds. The attempt types must match the report's (ATTEMPT_TYPES in
-- src/investigation/incident-report.ts; the equality tests fail otherwise).
CREATE FUNCTION fold_incident_rollup_hour(p_tenant_id uuid, p_lag interval) RETURNS timestamptz
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  v_hour timestamptz;
  v_epoch_hour bigint;
  v_level int;
  v_width interval;
  v_start timestamptz;
BEGIN
  IF p_lag IS NULL OR p_lag < interval '0' THEN
    RAISE EXCEPTION 'the fold lag must be zero or more' USING ERRCODE = '22023';
  END IF;
  -- A tenant's first fold starts at the hour of its oldest event (or the current hour): nothing before it.
  INSERT INTO incident_rollup_watermarks (tenant_id, valid_from, folded_until)
  SELECT t.id, h.start, h.start FROM tenants t,
    LATERAL (SELECT date_trunc('hour', coalesce(
      (SELECT min(l.occurred_at) FROM auth_logs l WHERE l.tenant_id = t.id), now()) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start) h
  WHERE t.id = p_tenant_id
  ON CONFLICT (tenant_id) DO NOTHING;

  SELECT w.folded_until INTO v_hour FROM incident_rollup_watermarks w WHERE w.tenant_id = p_tenant_id FOR UPDATE;
  IF NOT FOUND OR v_hour + interval '1 hour' > now() - p_lag THEN
    RETURN NULL;
  END IF;

  -- Rows left by an earlier fold of this hour cannot exist (the watermark moves with them), except after
  -- retention moved valid_from past them and back; deleting first keeps the fold idempotent regardless.
  DELETE FROM incident_rollups r WHERE r.tenant_id = p_tenant_id AND r.level = 0 AND r.bucket_start = v_hour;
  INSERT INTO incident_rollups (tenant_id, level, bucket_start, organisation_id, identifier, ip, user_id,
    failures, successes, lockouts, first_failure_at, last_failure_at, first_seen_at, last_seen_at, min_failure_seq, max_success_seq)
  SELECT p_tenant_id, 0, v_hour, l.organisation_id, l.identifier, l.ip, max(l.user_id::text),
    count(*) FILTER (WHERE l.event_type = 'login_failed'),
    count(*) FILTER (WHERE l.event_type = 'login_success'),
    count(*) FILTER (WHERE l.event_type = 'account_locked'),
    min(l.occurred_at) FILTER (WHERE l.event_type = 'login_failed'),
    max(l.occurred_at) FILTER (WHERE l.event_type = 'login_failed'),
    min(l.occurred_at), max(l.occurred_at),
    min(l.seq) FILTER (WHERE l.event_type = 'login_failed'),
    max(l.seq) FILTER (WHERE l.event_type = 'login_success')
  FROM auth_logs l
  WHERE l.tenant_id = p_tenant_id AND l.occurred_at >= v_hour AND l.occurred_at < v_hour + interval '1 hour'
    AND l.event_type IN ('login_failed', 'login_success', 'account_locked')
  GROUP BY l.organisation_id, l.identifier, l.ip;

  -- The hour completes the bucket of level k that ends with it when (its epoch hour + 1) is a multiple of 2^k.
  v_epoch_hour := floor(extract(epoch FROM v_hour) / 3600)::bigint;
  v_level := 1;
  WHILE v_level <= 10 AND (v_epoch_hour + 1) % (1::bigint << v_level) = 0 LOOP
    v_width := make_interval(hours => 1 << v_level);
    v_start := v_hour + interval '1 hour' - v_width;
    DELETE FROM incident_rollups r WHERE r.tenant_id = p_tenant_id AND r.level = v_level AND r.bucket_start = v_start;
    INSERT INTO incident_rollups (tenant_id, level, bucket_start, organisation_id, identifier, ip, user_id,
      failures, successes, lockouts, first_failure_at, last_failure_at, first_seen_at, last_seen_at, min_failure_seq, max_success_seq)
    SELECT p_tenant_id, v_level, v_start, r.organisation_id, r.identifier, r.ip, max(r.user_id),
      sum(r.failures), sum(r.successes), sum(r.lockouts),
      min(r.first_failure_at), max(r.last_failure_at), min(r.first_seen_at), max(r.last_seen_at),
      min(r.min_failure_seq), max(r.max_success_seq)
    FROM incident_rollups r
    WHERE r.tenant_id = p_tenant_id AND r.level = v_level - 1 AND r.bucket_start >= v_start AND r.bucket_start < v_start + v_width
    GROUP BY r.organisation_id, r.identifier, r.ip;
    v_level := v_level + 1;
  END LOOP;

  UPDATE incident_rollup_watermarks w SET folded_until = v_hour + interval '1 hour' WHERE w.tenant_id = p_tenant_id;
  RETURN v_hour;
END
$$;

-- purge_expired_auth_logs() as 20261202090300 defined it, now also moving the tenant's rollup validity
-- past the newest hour it deleted from (those hours' rollups count events that are gone) and dropping
-- the rollup rows that lie wholly before it.
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
  v_newest_deleted timestamptz;
  v_shard_newest timestamptz;
  v_valid_from timestamptz;
BEGIN
  PERFORM delete_idle_ip_throttles(p_tenant_id);
  FOR v_shard IN SELECT h.shard FROM chain_heads h WHERE h.tenant_id = p_tenant_id ORDER BY h.shard LOOP
    SELECT min(l.seq) INTO v_first_kept FROM auth_logs l
    WHERE l.tenant_id = p_tenant_id AND l.shard = v_shard AND l.expires_at > v_cutoff;

    SELECT l.seq, l.chain_hash INTO boundary_seq, boundary_hash FROM auth_logs l
    WHERE l.tenant_id = p_tenant_id AND l.shard = v_shard AND (v_first_kept IS NULL OR l.seq < v_first_kept)
    ORDER BY l.seq DESC LIMIT 1;
    CONTINUE WHEN NOT FOUND;

    WITH gone AS (
      DELETE FROM auth_logs l WHERE l.tenant_id = p_tenant_id AND l.shard = v_shard AND l.seq <= boundary_seq
      RETURNING l.occurred_at
    )
    SELECT count(*), max(gone.occurred_at) INTO deleted, v_shard_newest FROM gone;
    v_newest_deleted := GREATEST(v_newest_deleted, v_shard_newest);
    shard := v_shard;
    RETURN NEXT;
  END LOOP;

  IF v_newest_deleted IS NOT NULL THEN
    UPDATE incident_rollup_watermarks w
    SET valid_from = GREATEST(w.valid_from, date_trunc('hour', v_newest_deleted AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 hour'),
        folded_until = GREATEST(w.folded_until, date_trunc('hour', v_newest_deleted AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 hour')
    WHERE w.tenant_id = p_tenant_id
    RETURNING w.valid_from INTO v_valid_from;
    IF v_valid_from IS NOT NULL THEN
      DELETE FROM incident_rollups r
      WHERE r.tenant_id = p_tenant_id AND r.bucket_start + make_interval(hours => 1 << r.level) <= v_valid_from;
    END IF;
  END IF;
END
$$;

-- The rollups are derived from the trail: readable by the roles that read the trail, written by nobody
-- but the fold (and the purge), which run with the owner's rights.
INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'incident_rollups', 'SELECT'),
  ('runtime', 'table', 'incident_rollup_watermarks', 'SELECT'),
  ('runtime', 'function', 'fold_incident_rollup_hour(uuid,interval)', 'EXECUTE'),
  ('auditor', 'table', 'incident_rollups', 'SELECT'),
  ('auditor', 'table', 'incident_rollup_watermarks', 'SELECT')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
