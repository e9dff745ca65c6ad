-- Per-address failure budgets (ASVS V2.2.1). One row per tenant and network (IPv4 address, IPv6 /64):
-- the instant each budget is full again (GCRA), and the throttling episode in progress. Login attempts
-- from the network queue on this row's lock, so budgets are exact under concurrency.
CREATE TABLE ip_throttles (
  tenant_id             uuid NOT NULL REFERENCES tenants (id),
  network               text NOT NULL,
  budget_full_at        timestamptz,
  spray_budget_full_at  timestamptz,
  episode_started_at    timestamptz,
  episode_count         integer NOT NULL DEFAULT 0,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ip_throttles_pkey PRIMARY KEY (tenant_id, network)
);

-- The accounts a network failed against, each with its last failure: the distinct accounts within the
-- window tell a spraying address from a user mistyping. Written under the ip_throttles row lock; rows
-- older than the window are removed by the next failure from the same network.
CREATE TABLE ip_failed_accounts (
  tenant_id       uuid NOT NULL,
  network         text NOT NULL,
  identifier      text NOT NULL,
  last_failed_at  timestamptz NOT NULL,
  CONSTRAINT ip_failed_accounts_pkey PRIMARY KEY (tenant_id, network, identifier),
  CONSTRAINT ip_failed_accounts_throttle_fkey FOREIGN KEY (tenant_id, network) REFERENCES ip_throttles (tenant_id, network)
);

-- The incident report and the console list the addresses in an episode.
CREATE INDEX ip_throttles_episode_idx ON ip_throttles (tenant_id, episode_started_at) WHERE episode_started_at IS NOT NULL;
