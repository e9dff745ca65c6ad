-- GET /v1/audit/verify re-reads a tenant's whole trail, so it runs at most once at a time per tenant across
-- every instance of the service: the instance verifying holds a session advisory lock keyed on the tenant
-- (released with its connection should the instance die), and notes here when and for whom it began, so
-- that another instance asked meanwhile can name the running verification in its answer. One row per
-- tenant, overwritten by each verification; only read while the lock is held by someone.
CREATE TABLE IF NOT EXISTS chain_verification_runs (
  tenant_id   uuid PRIMARY KEY CONSTRAINT chain_verification_runs_tenant_fkey REFERENCES tenants (id),
  started_at  timestamptz NOT NULL,
  started_by  uuid,
  via         text NOT NULL CONSTRAINT chain_verification_runs_via_known CHECK (via IN ('api', 'command'))
);

INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'chain_verification_runs', 'SELECT, INSERT, UPDATE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
