-- Attempts that name no known tenant (unknown tenant, unreadable body) are still audited, in the chain of
-- this reserved tenant. Nobody can log in to it: it has no organisations and no users.
ALTER TABLE tenants DROP CONSTRAINT tenants_slug_format;
ALTER TABLE tenants ADD CONSTRAINT tenants_slug_format
  CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$' OR id = '00000000-0000-0000-0000-000000000000');

INSERT INTO tenants (id, slug, name, retention_days, chain_shards)
VALUES ('00000000-0000-0000-0000-000000000000', '_unattributed', 'Unattributed attempts', 90, 1);
