-- Events a sink refused until the relay gave up (or refused as permanently invalid). The payload is copied
-- because the outbox row is compacted once every cursor has passed it. A re-drive sets redriven_at.
CREATE TABLE outbox_dead_letters (
  sink         text NOT NULL,
  event_id     uuid NOT NULL,
  tenant_id    uuid NOT NULL,
  shard        smallint NOT NULL,
  seq          bigint NOT NULL,
  payload      jsonb NOT NULL,
  attempts     integer NOT NULL,
  last_error   text NOT NULL,
  dead_at      timestamptz NOT NULL DEFAULT now(),
  redriven_at  timestamptz,
  CONSTRAINT outbox_dead_letters_pkey PRIMARY KEY (sink, event_id)
);

CREATE INDEX outbox_dead_letters_tenant_idx ON outbox_dead_letters (tenant_id, sink, dead_at DESC);
CREATE INDEX outbox_dead_letters_pending_idx ON outbox_dead_letters (sink, tenant_id, shard, seq) WHERE redriven_at IS NULL;
