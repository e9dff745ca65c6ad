-- The Prometheus gauge of currently locked accounts reads only the locked rows, across tenants.
CREATE INDEX IF NOT EXISTS account_lockouts_locked_until_idx
  ON account_lockouts (account_locked_until) WHERE account_locked_until IS NOT NULL;
