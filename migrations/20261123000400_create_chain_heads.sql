-- One hash chain per (tenant, shard). The head row is the lock that makes sequence numbers gapless and
-- makes commit order equal sequence order within a chain.
CREATE TABLE chain_heads (
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  shard      smallint NOT NULL,
  seq        bigint NOT NULL DEFAULT 0,
  head_hash  bytea NOT NULL,
  CONSTRAINT chain_heads_pkey PRIMARY KEY (tenant_id, shard)
);
