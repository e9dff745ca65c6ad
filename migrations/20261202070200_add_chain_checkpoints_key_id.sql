-- Retention checkpoints move from HMAC-SHA256 to the Ed25519 signatures of signed_checkpoints: the
-- signature now covers (tenant, shard, seq, chain hash, signed_at, key_id) and key_id names the public
-- key that verifies it. Rows signed before (HMAC, no key_id) are treated as unsigned by the verifier.
ALTER TABLE chain_checkpoints ADD COLUMN IF NOT EXISTS key_id text;
ALTER TABLE chain_checkpoints ADD COLUMN IF NOT EXISTS signed_at timestamptz;
