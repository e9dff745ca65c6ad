-- Per-sink delivery state, one row per (sink, chain). Within a chain sequence numbers are gapless and commit in
-- order (the chain head's row lock is held until commit), so "everything up to delivered_seq has been passed
-- to this sink" is exact: the relay never relies on outbox.id, which is taken before commit and can become
-- visible out of order. A relay holds the row lock (FOR UPDATE SKIP LOCKED) while it delivers, so several
-- relays never deliver the same chain at once, and a relay that dies releases it with the cursor unmoved.
CREATE TABLE outbox_cursors (
  sink             text NOT NULL,
  tenant_id        uuid NOT NULL,
  shard            smallint NOT NULL,
  delivered_seq    bigint NOT NULL DEFAULT 0,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT '-infinity',
  last_error       text,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT outbox_cursors_pkey PRIMARY KEY (sink, tenant_id, shard),
  CONSTRAINT outbox_cursors_delivered_seq_nonnegative CHECK (delivered_seq >= 0),
  CONSTRAINT outbox_cursors_attempts_nonnegative CHECK (attempts >= 0)
);

CREATE INDEX outbox_cursors_due_idx ON outbox_cursors (sink, next_attempt_at);
