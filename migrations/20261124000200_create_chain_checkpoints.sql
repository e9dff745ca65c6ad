-- Where verification of a (tenant, shard) chain starts once retention has purged its beginning: the
-- sequence number and chain hash of the last purged event. A checkpoint is signed (HMAC-SHA256 with the
-- configured key, null when none is configured) and attested by the retention_purged event named by
-- purge_event_id, which lists every checkpoint of the tenant and is itself part of the chain.
CREATE TABLE IF NOT EXISTS chain_checkpoints (
  tenant_id       uuid NOT NULL,
  shard           smallint NOT NULL,
  seq             bigint NOT NULL CONSTRAINT chain_checkpoints_seq_positive CHECK (seq > 0),
  chain_hash      bytea NOT NULL,
  purged_before   timestamptz NOT NULL,
  purge_event_id  uuid NOT NULL,
  signature       bytea,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chain_checkpoints_pkey PRIMARY KEY (tenant_id, shard),
  CONSTRAINT chain_checkpoints_chain_fkey FOREIGN KEY (tenant_id, shard) REFERENCES chain_heads (tenant_id, shard)
);

-- A checkpoint only moves forward and is never removed: moving it back or deleting it would hide a gap.
CREATE OR REPLACE FUNCTION chain_checkpoints_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.seq >= OLD.seq AND NEW.tenant_id = OLD.tenant_id AND NEW.shard = OLD.shard THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'chain_checkpoints only move forward (% rejected)', TG_OP USING ERRCODE = 'AT003';
END
$$;

DROP TRIGGER IF EXISTS chain_checkpoints_forward_only ON chain_checkpoints;
CREATE TRIGGER chain_checkpoints_forward_only BEFORE UPDATE OR DELETE ON chain_checkpoints
  FOR EACH ROW EXECUTE FUNCTION chain_checkpoints_forward_only();
