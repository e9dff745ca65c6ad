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

/** One row per claimed chain and pending event (a chain with none found: one row, its event columns null). */
interface ClaimedRow {
  tenant_id: string
  shard: number
  delivered_seq: number
  attempts: number
  failing_since: Date | null
  event_id: string | null
  seq: number | null
  payload: OutboxPayload | null
}

/**
 * Claims, for one sink, chains that have undelivered events and are not backing off, and reads their next
 * events in sequence order, in one statement. Claiming is by state (rows past the cursor), never by an id
 * high-water mark, so an event that commits late is still found. The cursor rows stay locked (`FOR UPDATE
 * SKIP LOCKED`) until the caller's transaction ends: another relay skips them, and a relay that dies
 * releases them unmoved. Healthy chains come before retrying ones, least recently served first; each claimed
 * chain gets an equal share of `batchSize`, at least one event.
 */
export async function claimOutboxBatch(tx: Tx, sink: string, options: ClaimOptions): Promise<ClaimedChain[]> {
  const rows = await tx<ClaimedRow[]>`
    WITH claimed AS MATERIALIZED (
      SELECT c.tenant_id, c.shard, c.delivered_seq, c.attempts, c.failing_since, c.next_attempt_at, c.updated_at
      FROM outbox_cursors c
      WHERE c.sink = ${sink}
        AND c.next_attempt_at <= ${options.now}
        AND EXISTS (
          SELECT 1 FROM outbox o WHERE o.tenant_id = c.tenant_id AND o.shard = c.shard AND o.seq > c.delivered_seq
        )
      ORDER BY c.next_attempt_at, c.updated_at
      LIMIT ${options.maxChains}
      FOR UPDATE OF c SKIP LOCKED
    ), share AS (
      SELECT greatest(1, ceil(${options.batchSize}::numeric / greatest(count(*), 1)))::int AS per_chain FROM claimed
    )
    SELECT c.tenant_id, c.shard, c.delivered_seq, c.attempts, c.failing_since, o.event_id, o.seq, o.payload
    FROM claimed c CROSS JOIN share
    LEFT JOIN LATERAL (
      SELECT o.event_id, o.seq, o.payload FROM outbox o
      WHERE o.tenant_id = c.tenant_id AND o.shard = c.shard AND o.seq > c.delivered_seq
      ORDER BY o.seq
      LIMIT share.per_chain
    ) o ON true
    -- A chain's rows together (the key ends ties of the claim's order), in sequence order.
    ORDER BY c.next_attempt_at, c.updated_at, c.tenant_id, c.shard, o.seq`

  const chains: ClaimedChain[] = []
  let chain: ClaimedChain | undefined
  for (const r of rows) {
    if (chain === undefined || chain.tenantId !== r.tenant_id || chain.shard !== r.shard) {
      chain = { tenantId: r.tenant_id, shard: r.shard, deliveredSeq: r.delivered_seq, attempts: r.attempts, failingSince: r.failing_since, rows: [] }
      chains.push(chain)
    }
    if (r.event_id !== null) chain.rows.push({ eventId: r.event_id, tenantId: r.tenant_id, shard: r.shard, seq: r.seq!, payload: r.payload! })
  }
  for (const c of chains) c.rows = contiguousPrefix(c.rows)
  return chains
}

/**
 * Rows of a chain are gapless by construction; should a gap ever appear (rows deleted by hand), deliver only
 * up to it, so that no sink ever receives a chain out of order. The next claim starts after the gap.
 */
function contiguousPrefix(rows: OutboxRow[]): OutboxRow[] {
  const end = rows.findIndex((r, i) => i > 0 && r.seq !== rows[i - 1]!.seq + 1)
  return end === -1 ? rows : rows.slice(0, end)
}
