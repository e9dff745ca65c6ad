import type { Tx } from '../db/client.ts'
import type { ChainKey } from './outbox-row.ts'

export interface ChainFailure extends ChainKey {
  /** How far the chain got before its head failed (it may have advanced in the same claim). */
  deliveredSeq: number
  /** Consecutive failed attempts at the head, this one included. */
  attempts: number
  retryInMs: number
  error: string
}

/** Records a failed attempt at a chain's head event: the cursor backs off until `retryInMs` after `now` (the relay's clock). */
export async function markChainFailed(tx: Tx, sink: string, failure: ChainFailure, now: Date): Promise<void> {
  await tx`
    UPDATE outbox_cursors
    SET delivered_seq = GREATEST(delivered_seq, ${failure.deliveredSeq}),
        attempts = ${failure.attempts},
        next_attempt_at = ${now}::timestamptz + ${failure.retryInMs} * interval '1 millisecond',
        last_error = ${failure.error},
        failing_since = coalesce(failing_since, ${now}::timestamptz),
        updated_at = ${now}::timestamptz
    WHERE sink = ${sink} AND tenant_id = ${failure.tenantId} AND shard = ${failure.shard}`
}
