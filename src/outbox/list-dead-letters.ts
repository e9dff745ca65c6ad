import type { EventType } from '../core/event-types.ts'
import type { Sql } from '../db/client.ts'

export interface DeadLetter {
  sink: string
  eventId: string
  tenantId: string
  shard: number
  seq: number
  eventType: EventType
  occurredAt: string
  attempts: number
  lastError: string
  deadAt: string
  redrivenAt: string | null
}

export interface DeadLetterQuery {
  tenantId: string
  sink?: string
  /** `pending` (default): not re-driven yet; `all`: re-driven ones too. */
  state?: 'pending' | 'all'
  limit?: number
}

/** A tenant's dead letters, newest first, without their payloads. */
export async function listDeadLetters(sql: Sql, query: DeadLetterQuery): Promise<DeadLetter[]> {
  const rows = await sql<
    {
      sink: string
      event_id: string
      tenant_id: string
      shard: number
      seq: number
      event_type: EventType
      occurred_at: string
      attempts: number
      last_error: string
      dead_at: Date
      redriven_at: Date | null
    }[]
  >`
    SELECT sink, event_id, tenant_id, shard, seq, payload #>> '{event,event_type}' AS event_type,
      payload #>> '{event,occurred_at}' AS occurred_at, attempts, last_error, dead_at, redriven_at
    FROM outbox_dead_letters
    WHERE tenant_id = ${query.tenantId}
      ${query.sink === undefined ? sql`` : sql`AND sink = ${query.sink}`}
      ${query.state === 'all' ? sql`` : sql`AND redriven_at IS NULL`}
    ORDER BY dead_at DESC, event_id DESC
    LIMIT ${query.limit ?? 100}`
  return rows.map((r) => ({
    sink: r.sink,
    eventId: r.event_id,
    tenantId: r.tenant_id,
    shard: r.shard,
    seq: r.seq,
    eventType: r.event_type,
    occurredAt: r.occurred_at,
    attempts: r.attempts,
    lastError: r.last_error,
    deadAt: r.dead_at.toISOString(),
    redrivenAt: r.redriven_at?.toISOString() ?? null,
  }))
}
