-- Every tenant gets its chain heads when it is created, whatever code path creates it. The genesis hash
-- is SHA-256 of 'authtrail/chain/v1/<tenant id>/<shard>' (src/core/chain.ts genesisHash, same bytes).
CREATE FUNCTION tenants_create_chain_heads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chain_heads (tenant_id, shard, seq, head_hash)
  SELECT NEW.id, s, 0, sha256(convert_to('authtrail/chain/v1/' || NEW.id::text || '/' || s::text, 'UTF8'))
  FROM generate_series(0, NEW.chain_shards - 1) AS s;
  RETURN NEW;
END
$$;

CREATE TRIGGER tenants_create_chain_heads AFTER INSERT ON tenants
  FOR EACH ROW EXECUTE FUNCTION tenants_create_chain_heads();

-- The shard count is fixed at creation: changing it would move accounts between chains.
CREATE FUNCTION tenants_reject_shard_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'chain_shards cannot change after a tenant is created' USING ERRCODE = 'AT002';
END
$$;

CREATE TRIGGER tenants_chain_shards_fixed BEFORE UPDATE OF chain_shards ON tenants
  FOR EACH ROW WHEN (OLD.chain_shards IS DISTINCT FROM NEW.chain_shards)
  EXECUTE FUNCTION tenants_reject_shard_change();
