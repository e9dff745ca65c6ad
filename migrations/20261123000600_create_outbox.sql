-- The transactional outbox: one row per event, written in the login's transaction. Relays keep their own
-- per-sink, per-chain delivery state in outbox_cursors; rows every sink has passed are deleted.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  event_id    uuid NOT NULL CONSTRAINT outbox_event_id_key UNIQUE,
  tenant_id   uuid NOT NULL,
  shard       smallint NOT NULL,
  seq         bigint NOT NULL,
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT outbox_chain_position_key UNIQUE (tenant_id, shard, seq)
);

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('authtrail_outbox', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
