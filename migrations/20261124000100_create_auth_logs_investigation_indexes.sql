-- Indexes for the investigation API. Each leads with tenant_id (every query is tenant-scoped in SQL) and
-- ends with (occurred_at DESC, id DESC), the keyset order of the events query, so that one filter plus a
-- page is a single index range scan. The partial predicates keep NULLs (anonymous attempts, no user) out.
-- Per-account questions (lockout diagnostics, suspicious successes) go through the identifier index.
CREATE INDEX IF NOT EXISTS auth_logs_tenant_identifier_time_idx
  ON auth_logs (tenant_id, identifier, occurred_at DESC, id DESC) WHERE identifier IS NOT NULL;

-- Source-address questions: exact IP and CIDR (btree range on inet, see the events query).
CREATE INDEX IF NOT EXISTS auth_logs_tenant_ip_time_idx
  ON auth_logs (tenant_id, ip_inet, occurred_at DESC, id DESC) WHERE ip_inet IS NOT NULL;

CREATE INDEX IF NOT EXISTS auth_logs_tenant_user_time_idx
  ON auth_logs (tenant_id, user_id, occurred_at DESC, id DESC) WHERE user_id IS NOT NULL;

-- Rare event types (lockouts, resets, administrative actions) must not be found by scanning all attempts.
CREATE INDEX IF NOT EXISTS auth_logs_tenant_type_time_idx
  ON auth_logs (tenant_id, event_type, occurred_at DESC, id DESC);
