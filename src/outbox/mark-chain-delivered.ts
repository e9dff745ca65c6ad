import type { Tx } from '../db/client.ts'
import type { ChainKey } from './outbox-row.ts'

/**
 * Moves cursors of one sink forward to `seq` (delivered or dead-lettered up to there) and clears their
 * failure state, all in one statement.
 */
export async function markChainsDelivered(tx: Tx, sink: string, advances: readonly (ChainKey & { seq: number })[]): Promise<void> {
  if (advances.length === 0) return
  const values = advances.map((a) => ({ tenant_id: a.tenantId, shard: a.shard, seq: a.seq }))
  await tx`
    UPDATE outbox_cursors c
    SET delivered_seq = v.seq, attempts = 0, next_attempt_at = '-infinity', last_error = NULL, failing_since = NULL,
        updated_at = clock_timestamp()
    FROM jsonb_to_recordset(${tx.json(values)}::jsonb) AS v(tenant_id uuid, shard smallint, seq bigint)
    WHERE c.sink = ${sink} AND c.tenant_id = v.tenant_id AND c.shard = v.shard AND v.seq > c.delivered_seq`
}
