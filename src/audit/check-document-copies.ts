import { compareEventCopies, type CrossStoreReport } from '../core/cross-store-check.ts'
import type { Sql } from '../db/client.ts'
import type { DocumentStore } from '../sinks/docstore/document-store.ts'
import { fromEventDocument } from '../sinks/docstore/event-document.ts'
import { chainedFromRow, type AuthLogRow } from './stored-event.ts'

export interface CopyCheckReport extends CrossStoreReport {
  /** Events compared (those the relay reports delivered to the document store). */
  compared: number
  /** Events not yet delivered to the document store: not compared, not a fault. */
  pending: number
}

const PAGE = 5_000

/**
 * Compares a tenant's events in PostgreSQL (the system of record) with their document-store copies, chain
 * by chain in pages, up to what the relay has delivered to the store. Missing, extra and altered
 * documents are named by event id, shard and sequence number.
 */
export async function checkDocumentCopies(
  sql: Sql,
  store: DocumentStore,
  tenantId: string,
  now: Date = new Date(),
  /** Told the number of events each compared page held (a command's progress). */
  onCompared?: (events: number) => void,
): Promise<CopyCheckReport> {
  const chains = await sql<{ shard: number; head_seq: number; delivered_seq: number }[]>`
    SELECT h.shard, h.seq AS head_seq, coalesce(c.delivered_seq, 0) AS delivered_seq
    FROM chain_heads h
    LEFT JOIN outbox_cursors c ON c.sink = 'docstore' AND c.tenant_id = h.tenant_id AND c.shard = h.shard
    WHERE h.tenant_id = ${tenantId}
    ORDER BY h.shard`
  const total: CopyCheckReport = { missing: [], extra: [], altered: [], expired: [], consistent: true, compared: 0, pending: 0 }
  for (const chain of chains) {
    total.pending += chain.head_seq - chain.delivered_seq
    for (let from = 1; from <= chain.delivered_seq; from += PAGE) {
      const to = Math.min(chain.delivered_seq, from + PAGE - 1)
      const rows = await sql<AuthLogRow[]>`
        SELECT * FROM auth_logs WHERE tenant_id = ${tenantId} AND shard = ${chain.shard} AND seq BETWEEN ${from} AND ${to} ORDER BY seq`
      const copies = await store.listTenantEvents(tenantId, { shard: chain.shard, fromSeq: from, toSeq: to })
      const report = compareEventCopies(rows.map(chainedFromRow), copies.map(fromEventDocument), { now })
      total.missing.push(...report.missing)
      total.extra.push(...report.extra)
      total.altered.push(...report.altered)
      total.expired.push(...report.expired)
      total.compared += rows.length
      onCompared?.(rows.length)
    }
  }
  total.consistent = total.missing.length === 0 && total.extra.length === 0 && total.altered.length === 0
  return total
}
