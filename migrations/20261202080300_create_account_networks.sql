-- Lockout mode `account_ip`: the networks where an account has logged in (known to it), and a lockout
-- state per account and network for the attempts from a known or allow-listed network, which the
-- account's own lock does not bind. Same state columns as account_lockouts.
CREATE TABLE account_known_networks (
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  identifier       text NOT NULL,
  network          text NOT NULL,
  last_success_at  timestamptz NOT NULL,
  CONSTRAINT account_known_networks_pkey PRIMARY KEY (tenant_id, identifier, network)
);

CREATE TABLE account_network_lockouts (
  tenant_id              uuid NOT NULL REFERENCES tenants (id),
  identifier             text NOT NULL,
  network                text NOT NULL,
  failed_login_attempts  integer NOT NULL DEFAULT 0,
  window_started_at      timestamptz,
  last_failed_at         timestamptz,
  account_locked_until   timestamptz,
  lockout_count          integer NOT NULL DEFAULT 0,
  last_locked_at         timestamptz,
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT account_network_lockouts_pkey PRIMARY KEY (tenant_id, identifier, network)
);
