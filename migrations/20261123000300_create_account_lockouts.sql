-- Lockout state is kept per attempted identifier, not per user row, so that an identifier with no account
-- locks exactly like a real one and the 423 answer reveals nothing about which accounts exist.
CREATE TABLE account_lockouts (
  tenant_id              uuid NOT NULL REFERENCES tenants (id),
  identifier             text NOT NULL,
  user_id                uuid,
  failed_login_attempts  integer NOT NULL DEFAULT 0,
  window_started_at      timestamptz,
  last_failed_at         timestamptz,
  account_locked_until   timestamptz,
  lockout_count          integer NOT NULL DEFAULT 0,
  last_locked_at         timestamptz,
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT account_lockouts_pkey PRIMARY KEY (tenant_id, identifier)
);
