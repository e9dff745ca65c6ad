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

/** Records a failed attempt at a chain's head event: the cursor backs off until `retryInMs` from now. */
export async function markChainFailed(tx: Tx, sink: string, failure: ChainFailure): Promise<void> {
  await tx`
    UPDATE outbox_cursors
    SET delivered_seq = GREATEST(delivered_seq, ${failure.deliveredSeq}),
        attempts = ${failure.attempts},
        next_attempt_at = clock_timestamp() + ${failure.retryInMs} * interval '1 millisecond',
        last_error = ${failure.error},
        failing_since = coalesce(failing_since, clock_timestamp()),
        updated_at = clock_timestamp()
    WHERE sink = ${sink} AND tenant_id = ${failure.tenantId} AND shard = ${failure.shard}`
}
