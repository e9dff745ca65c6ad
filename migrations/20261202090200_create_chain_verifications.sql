-- The results of verifying a tenant's chains, one row per verification, so that the console can show when
-- the trail was last verified, by whom and with what result. A record of a check, not evidence: the chain
-- and its signed checkpoints are the evidence, and any verification recomputes them. Rows are only added.
CREATE TABLE IF NOT EXISTS chain_verifications (
  id                  uuid PRIMARY KEY,
  tenant_id           uuid NOT NULL CONSTRAINT chain_verifications_tenant_fkey REFERENCES tenants (id),
  verified_at         timestamptz NOT NULL,
  ok                  boolean NOT NULL,
  verified_events     bigint NOT NULL CONSTRAINT chain_verifications_events_non_negative CHECK (verified_events >= 0),
  -- The first break (shard, seq, reason, anchor) when not ok.
  first_break         jsonb,
  signatures_checked  boolean NOT NULL,
  -- Where the request came from: the API (by the user verified_by) or the command.
  via                 text NOT NULL CONSTRAINT chain_verifications_via_known CHECK (via IN ('api', 'command')),
  verified_by         uuid,
  duration_ms         integer NOT NULL CONSTRAINT chain_verifications_duration_non_negative CHECK (duration_ms >= 0)
);

CREATE INDEX IF NOT EXISTS chain_verifications_tenant_verified_at_idx ON chain_verifications (tenant_id, verified_at DESC);

-- The newest signed checkpoint of a tenant, read by the live overview on every push.
CREATE INDEX IF NOT EXISTS signed_checkpoints_tenant_signed_at_idx ON signed_checkpoints (tenant_id, signed_at DESC);

-- The service (GET /v1/audit/verify) and the auditor role (the verify command) record what they verified.
INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'chain_verifications', 'SELECT, INSERT'),
  ('auditor', 'table', 'chain_verifications', 'SELECT, INSERT'),
  ('retention', 'table', 'chain_verifications', 'SELECT')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
