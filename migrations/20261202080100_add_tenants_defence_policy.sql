-- A tenant's active defence as data (per-address failure budgets, spraying budget, allow-listed networks,
-- lockout mode): one jsonb document, validated by the service (src/core/defence-policy.ts) on every write
-- and every read. Missing fields take the documented defaults, so '{}' is the default policy.
ALTER TABLE tenants ADD COLUMN defence_policy jsonb NOT NULL DEFAULT '{}'
  CONSTRAINT tenants_defence_policy_object CHECK (jsonb_typeof(defence_policy) = 'object');
