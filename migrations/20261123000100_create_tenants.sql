-- Tenants carry their plan: retention, export rights and the lockout policy (OWASP ASVS V2.8).
CREATE TABLE tenants (
  id                      uuid PRIMARY KEY,
  slug                    text NOT NULL CONSTRAINT tenants_slug_key UNIQUE
                            CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  name                    text NOT NULL,
  retention_days          integer NOT NULL DEFAULT 365 CONSTRAINT tenants_retention_days_range CHECK (retention_days BETWEEN 1 AND 3650),
  can_download            boolean NOT NULL DEFAULT false,
  lockout_max_failures    integer NOT NULL DEFAULT 5 CONSTRAINT tenants_lockout_max_failures_range CHECK (lockout_max_failures BETWEEN 1 AND 1000),
  lockout_window_seconds  integer NOT NULL DEFAULT 900 CONSTRAINT tenants_lockout_window_range CHECK (lockout_window_seconds > 0),
  lockout_base_seconds    integer NOT NULL DEFAULT 300 CONSTRAINT tenants_lockout_base_range CHECK (lockout_base_seconds > 0),
  lockout_multiplier      integer NOT NULL DEFAULT 2 CONSTRAINT tenants_lockout_multiplier_range CHECK (lockout_multiplier BETWEEN 1 AND 10),
  lockout_max_seconds     integer NOT NULL DEFAULT 86400,
  chain_shards            smallint NOT NULL DEFAULT 16 CONSTRAINT tenants_chain_shards_range CHECK (chain_shards BETWEEN 1 AND 256),
  created_at              timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_lockout_max_ge_base CHECK (lockout_max_seconds >= lockout_base_seconds)
);

CREATE TABLE organisations (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT organisations_tenant_name_key UNIQUE (tenant_id, name),
  CONSTRAINT organisations_tenant_id_key UNIQUE (tenant_id, id)
);
