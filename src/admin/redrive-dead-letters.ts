import { recordEvents } from '../audit/record-events.ts'
import type { OutboxPayload } from '../core/auth-event.ts'
import type { Sql, Tx } from '../db/client.ts'
import { findTenantById } from '../db/tenants.ts'
import { deliverWithTimeout } from '../outbox/deliver-with-timeout.ts'
import { describeError } from '../outbox/outbox-row.ts'
import type { EventSink } from '../sinks/event-sink.ts'

export interface RedriveFilter {
  /** Only this tenant's dead letters (the admin API always sets it). */
  tenantId?: string
  /** Only these events. */
  eventIds?: readonly string[]
  /** At most this many dead letters per call. Default 1000. */
  limit?: number
}

/** Who asked for the re-drive: recorded in the `dead_letters_redriven` audit event. */
export interface RedriveActor {
  channel: 'admin' | 'system'
  actorId?: string | null
  organisationId?: string | null
  ip?: string | null
  userAgent?: string | null
}

export interface RedriveOptions {
  actor?: RedriveActor
  now?: Date
  deliveryTimeoutMs?: number
}

export interface RedriveResult {
  redriven: string[]
  failed: { eventId: string; error: string }[]
  /** One `dead_letters_redriven` event per chain touched. */
  auditEventIds: string[]
}

interface DeadLetterRow {
  event_id: string
  tenant_id: string
  shard: number
  seq: number
  payload: OutboxPayload
}

/** How many event ids an audit event lists; the counts are always complete. */
const MAX_LISTED_IDS = 100

/**
 * Delivers a sink's pending dead letters again, in chain order, and marks the delivered ones `redriven_at`.
 * In the same transaction it records, in each chain touched, a `dead_letters_redriven` event naming the
 * sink and the events (outcome `failure` if some could still not be delivered; those keep their dead-letter
 * state with the new error). Concurrent re-drives skip each other's rows.
 *
 * @example
 * const result = await redriveDeadLetters(sql, 'docstore', docstoreSink, { tenantId }, { actor: { channel: 'system' } })
 */
export async function redriveDeadLetters(
  sql: Sql,
  sink: string,
  sinkImpl: EventSink,
  filter: RedriveFilter = {},
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  if (sinkImpl.name !== sink) throw new Error(`sink ${sinkImpl.name} cannot re-drive dead letters of sink ${sink}`)
  const timeoutMs = options.deliveryTimeoutMs ?? 30_000
  const actor = options.actor ?? { channel: 'system' }
  return sql.begin(async (tx) => {
    const rows = await tx<DeadLetterRow[]>`
      SELECT event_id, tenant_id, shard, seq, payload
      FROM outbox_dead_letters
      WHERE sink = ${sink} AND redriven_at IS NULL
        ${filter.tenantId === undefined ? tx`` : tx`AND tenant_id = ${filter.tenantId}`}
        ${filter.eventIds === undefined ? tx`` : filter.eventIds.length === 0 ? tx`AND FALSE` : tx`AND event_id IN ${tx(filter.eventIds as string[])}`}
      ORDER BY tenant_id, shard, seq
      LIMIT ${filter.limit ?? 1000}
      FOR UPDATE SKIP LOCKED`
    const result: RedriveResult = { redriven: [], failed: [], auditEventIds: [] }
    if (rows.length === 0) return result

    try {
      await deliverWithTimeout(sinkImpl, rows.map((r) => r.payload), timeoutMs)
      result.redriven = rows.map((r) => r.event_id)
    } catch {
      // Dead letters are few: find the ones that still fail one by one.
      for (const row of rows) {
        try {
          await deliverWithTimeout(sinkImpl, [row.payload], timeoutMs)
          result.redriven.push(row.event_id)
        } catch (error) {
          result.failed.push({ eventId: row.event_id, error: describeError(error) })
        }
      }
    }

    if (result.redriven.length > 0) {
      await tx`
        UPDATE outbox_dead_letters SET redriven_at = clock_timestamp()
        WHERE sink = ${sink} AND event_id IN ${tx(result.redriven)}`
    }
    for (const failure of result.failed) {
      await tx`
        UPDATE outbox_dead_letters SET attempts = attempts + 1, last_error = ${failure.error}
        WHERE sink = ${sink} AND event_id = ${failure.eventId}`
    }
    result.auditEventIds = await recordRedrives(tx, sink, rows, result, actor, options.now ?? new Date())
    return result
  })
}

/** Appends one `dead_letters_redriven` event to each chain whose dead letters were tried. */
async function recordRedrives(
  tx: Tx,
  sink: string,
  rows: readonly DeadLetterRow[],
  result: RedriveResult,
  actor: RedriveActor,
  now: Date,
): Promise<string[]> {
  const failed = new Set(result.failed.map((f) => f.eventId))
  const chains = new Map<string, DeadLetterRow[]>()
  for (const row of rows) {
    const key = `${row.tenant_id}/${row.shard}`
    chains.set(key, [...(chains.get(key) ?? []), row])
  }
  const ids: string[] = []
  for (const chainRows of chains.values()) {
    const { tenant_id: tenantId, shard } = chainRows[0]!
    const tenant = (await findTenantById(tx, tenantId)) ?? { id: tenantId, retentionDays: 90, chainShards: 1 }
    const redriven = chainRows.filter((r) => !failed.has(r.event_id)).map((r) => r.event_id)
    const stillFailing = chainRows.filter((r) => failed.has(r.event_id)).map((r) => r.event_id)
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'dead_letters_redriven',
          outcome: stillFailing.length === 0 ? 'success' : 'failure',
          reason: stillFailing.length === 0 ? null : 'sink_still_failing',
          origin: { channel: actor.channel, ip: actor.ip ?? null, userAgent: actor.userAgent ?? null, deviceId: null },
          organisationId: actor.organisationId ?? null,
          actorId: actor.actorId ?? null,
          metadata: {
            sink,
            redriven_count: redriven.length,
            failed_count: stillFailing.length,
            redriven_event_ids: redriven.slice(0, MAX_LISTED_IDS),
            failed_event_ids: stillFailing.slice(0, MAX_LISTED_IDS),
          },
        },
      ],
      // In the chain whose dead letters were re-delivered.
      { now, shard },
    )
    ids.push(event!.id)
  }
  return ids
}
