-- Signed checkpoints of the chain heads: each row says that chain (tenant_id, shard) had chain_hash at seq,
-- signed at signed_at with the Ed25519 key key_id (a key the database never sees; its public half is
-- published by GET /v1/audit/keys). The same checkpoint travels as the chain_checkpoint event event_id
-- through the outbox to the document store and the SIEM, whose copies are the anchors verification
-- compares this table and the chain with. Append-only: a checkpoint is never changed or removed.
CREATE TABLE IF NOT EXISTS signed_checkpoints (
  tenant_id   uuid NOT NULL,
  shard       smallint NOT NULL,
  seq         bigint NOT NULL CONSTRAINT signed_checkpoints_seq_positive CHECK (seq > 0),
  chain_hash  bytea NOT NULL,
  signed_at   timestamptz NOT NULL,
  key_id      text NOT NULL,
  signature   bytea NOT NULL,
  event_id    uuid NOT NULL,
  CONSTRAINT signed_checkpoints_pkey PRIMARY KEY (tenant_id, shard, seq),
  CONSTRAINT signed_checkpoints_chain_fkey FOREIGN KEY (tenant_id, shard) REFERENCES chain_heads (tenant_id, shard)
);

CREATE OR REPLACE FUNCTION signed_checkpoints_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'signed_checkpoints is append-only (% rejected)', TG_OP USING ERRCODE = 'AT004';
END
$$;

DROP TRIGGER IF EXISTS signed_checkpoints_append_only ON signed_checkpoints;
CREATE TRIGGER signed_checkpoints_append_only BEFORE UPDATE OR DELETE ON signed_checkpoints
  FOR EACH ROW EXECUTE FUNCTION signed_checkpoints_reject_change();
DROP TRIGGER IF EXISTS signed_checkpoints_no_truncate ON signed_checkpoints;
CREATE TRIGGER signed_checkpoints_no_truncate BEFORE TRUNCATE ON signed_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION signed_checkpoints_reject_change();

-- The service appends checkpoints (never changes them); retention and auditors read them.
INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'signed_checkpoints', 'SELECT, INSERT'),
  ('retention', 'table', 'signed_checkpoints', 'SELECT'),
  ('auditor', 'table', 'signed_checkpoints', 'SELECT')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
