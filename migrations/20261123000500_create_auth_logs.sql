-- The system of record. Each row is one canonical event (RFC 8785), its three FIPS 180-4 digests and its
-- link in the chain. `ip` holds the exact text that was hashed; `ip_inet` is derived for CIDR queries.
CREATE TABLE auth_logs (
  id                uuid PRIMARY KEY,
  tenant_id         uuid NOT NULL REFERENCES tenants (id),
  organisation_id   uuid,
  shard             smallint NOT NULL,
  seq               bigint NOT NULL,
  event_type        text NOT NULL CONSTRAINT auth_logs_event_type_known CHECK (event_type IN (
                      'login_failed', 'account_locked', 'login_success', 'lockout_reset',
                      'registration_succeeded', 'registration_failed', 'audit_exported',
                      'retention_purged', 'dead_letters_redriven')),
  channel           text NOT NULL CONSTRAINT auth_logs_channel_known CHECK (channel IN ('web', 'mobile', 'admin', 'system')),
  user_id           uuid,
  identifier        text,
  ip                text,
  ip_inet           inet GENERATED ALWAYS AS (ip::inet) STORED,
  user_agent        text,
  device_id         text,
  occurred_at       timestamptz NOT NULL,
  outcome           text NOT NULL CONSTRAINT auth_logs_outcome_known CHECK (outcome IN ('success', 'failure')),
  reason            text,
  risk              jsonb NOT NULL,
  metadata          jsonb NOT NULL,
  token_jti         text,
  actor_id          uuid,
  expires_at        timestamptz NOT NULL,
  digest_sha256     bytea NOT NULL,
  digest_sha512     bytea NOT NULL,
  digest_sha3_256   bytea NOT NULL,
  prev_hash         bytea NOT NULL,
  chain_hash        bytea NOT NULL,
  CONSTRAINT auth_logs_chain_position_key UNIQUE (tenant_id, shard, seq)
);

CREATE INDEX auth_logs_tenant_time_idx ON auth_logs (tenant_id, occurred_at DESC, id DESC);

-- Append-only in the database. The only way to delete is purge_expired_auth_logs(), used by retention.
CREATE FUNCTION auth_logs_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('authtrail.retention_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'auth_logs is append-only (% rejected)', TG_OP USING ERRCODE = 'AT001';
END
$$;

CREATE TRIGGER auth_logs_append_only BEFORE UPDATE OR DELETE ON auth_logs
  FOR EACH ROW EXECUTE FUNCTION auth_logs_reject_change();
CREATE TRIGGER auth_logs_no_truncate BEFORE TRUNCATE ON auth_logs
  FOR EACH STATEMENT EXECUTE FUNCTION auth_logs_reject_change();
