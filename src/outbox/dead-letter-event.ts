import type { Tx } from '../db/client.ts'
import type { OutboxRow } from './outbox-row.ts'

/**
 * Moves a chain's head event to the sink's dead letters, copying the outbox payload (the outbox row goes
 * away at compaction), and moves the cursor past it so the events behind it continue. One transaction with
 * the claim: a relay that dies here leaves both undone. The chain's failure state is cleared with it
 * (failing_since included): the next failure of this chain starts a new one, so that a success of the sink
 * before it can never count as evidence that the sink works (see DeliveryPolicy.maxAttempts).
 */
export async function deadLetterEvent(tx: Tx, sink: string, row: OutboxRow, attempts: number, error: string): Promise<void> {
  await tx`
    INSERT INTO outbox_dead_letters (sink, event_id, tenant_id, shard, seq, payload, attempts, last_error)
    SELECT ${sink}, o.event_id, o.tenant_id, o.shard, o.seq, o.payload, ${attempts}, ${error}
    FROM outbox o WHERE o.event_id = ${row.eventId}
    ON CONFLICT ON CONSTRAINT outbox_dead_letters_pkey DO UPDATE
      SET attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, dead_at = EXCLUDED.dead_at, redriven_at = NULL`
  await tx`
    UPDATE outbox_cursors
    SET delivered_seq = ${row.seq}, attempts = 0, next_attempt_at = '-infinity', last_error = NULL, failing_since = NULL,
        updated_at = clock_timestamp()
    WHERE sink = ${sink} AND tenant_id = ${row.tenantId} AND shard = ${row.shard} AND delivered_seq < ${row.seq}`
}
