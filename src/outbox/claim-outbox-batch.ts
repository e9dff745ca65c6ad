import type { OutboxPayload } from '../core/auth-event.ts'
import type { Tx } from '../db/client.ts'
import type { ClaimedChain, OutboxRow } from './outbox-row.ts'

export interface ClaimOptions {
  /** At most this many chains per claim. */
  maxChains: number
  /** At most about this many events per claim, shared among the claimed chains. */
  batchSize: number
  /** The relay's clock: chains whose back-off ends after it are not claimed. */
  now: Date
}

interface CursorRow {
  tenant_id: string
  shard: number
  delivered_seq: number
  attempts: number
  failing_since: Date | null
}

interface PendingRow {
  event_id: string
  tenant_id: string
  shard: number
  seq: number
  payload: OutboxPayload
}

/**
 * Claims, for one sink, chains that have undelivered events and are not backing off, and reads their next
 * events in sequence order. Claiming is by state (rows past the cursor), never by an id high-water mark, so
 * an event that commits late is still found. The cursor rows stay locked (`FOR UPDATE SKIP LOCKED`) until
 * the caller's transaction ends: another relay skips them, and a relay that dies releases them unmoved.
 * Healthy chains come before retrying ones, least recently served first.
 */
export async function claimOutboxBatch(tx: Tx, sink: string, options: ClaimOptions): Promise<ClaimedChain[]> {
  const cursors = await tx<CursorRow[]>`
    SELECT c.tenant_id, c.shard, c.delivered_seq, c.attempts, c.failing_since
    FROM outbox_cursors c
    WHERE c.sink = ${sink}
      AND c.next_attempt_at <= ${options.now}
      AND EXISTS (
        SELECT 1 FROM outbox o WHERE o.tenant_id = c.tenant_id AND o.shard = c.shard AND o.seq > c.delivered_seq
      )
    ORDER BY c.next_attempt_at, c.updated_at
    LIMIT ${options.maxChains}
    FOR UPDATE OF c SKIP LOCKED`
  if (cursors.length === 0) return []

  const perChain = Math.max(1, Math.ceil(options.batchSize / cursors.length))
  const wanted = cursors.map((c) => ({ tenant_id: c.tenant_id, shard: c.shard, delivered_seq: c.delivered_seq }))
  const pending = await tx<PendingRow[]>`
    SELECT o.event_id, o.tenant_id, o.shard, o.seq, o.payload
    FROM jsonb_to_recordset(${tx.json(wanted)}::jsonb) AS c(tenant_id uuid, shard smallint, delivered_seq bigint)
    CROSS JOIN LATERAL (
      SELECT * FROM outbox o
      WHERE o.tenant_id = c.tenant_id AND o.shard = c.shard AND o.seq > c.delivered_seq
      ORDER BY o.seq
      LIMIT ${perChain}
    ) o
    ORDER BY o.tenant_id, o.shard, o.seq`

  const byChain = new Map<string, OutboxRow[]>()
  for (const r of pending) {
    const key = `${r.tenant_id}/${r.shard}`
    const rows = byChain.get(key) ?? []
    rows.push({ eventId: r.event_id, tenantId: r.tenant_id, shard: r.shard, seq: r.seq, payload: r.payload })
    byChain.set(key, rows)
  }
  return cursors.map((c) => ({
    tenantId: c.tenant_id,
    shard: c.shard,
    deliveredSeq: c.delivered_seq,
    attempts: c.attempts,
    failingSince: c.failing_since,
    rows: contiguousPrefix(byChain.get(`${c.tenant_id}/${c.shard}`) ?? []),
  }))
}

/**
 * Rows of a chain are gapless by construction; should a gap ever appear (rows deleted by hand), deliver only
 * up to it, so that no sink ever receives a chain out of order. The next claim starts after the gap.
 */
function contiguousPrefix(rows: OutboxRow[]): OutboxRow[] {
  const end = rows.findIndex((r, i) => i > 0 && r.seq !== rows[i - 1]!.seq + 1)
  return end === -1 ? rows : rows.slice(0, end)
}
