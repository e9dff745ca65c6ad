import type { ChainedEvent } from './auth-event.ts'
import { canonicalJson } from './canonical-json.ts'

/** Where an event sits: enough to find it in either store. */
export interface EventPosition {
  eventId: string
  shard: number
  seq: number
}

/** An event present in both stores whose copy differs; `fields` names each differing field (`digests.sha256`…). */
export interface AlteredEvent extends EventPosition {
  fields: string[]
}

/** The outcome of comparing a tenant's events in the system of record with their copies. */
export interface CrossStoreReport {
  /** In the system of record, not in the copy. */
  missing: EventPosition[]
  /** In the copy, not in the system of record. */
  extra: EventPosition[]
  /** In both, but different. Positions are the system of record's. */
  altered: AlteredEvent[]
  /**
   * On one side only, but past `expires_at` at `now`: retention has run on one store and not yet on the
   * other (MongoDB's TTL monitor and the PostgreSQL purge run on their own schedules). Not a fault.
   */
  expired: EventPosition[]
  /** True when nothing is missing, extra or altered. */
  consistent: boolean
}

export interface CompareOptions {
  /** When given, events absent on one side and already expired at this instant are reported as `expired`. */
  now?: Date
}

const position = (event: ChainedEvent): EventPosition => ({ eventId: event.id, shard: event.shard, seq: event.seq })

function byPosition(a: EventPosition, b: EventPosition): number {
  return a.shard - b.shard || a.seq - b.seq || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)
}

// A copy may hold anything; a value that cannot be canonicalised still has to compare, not throw.
function encode(value: unknown): string {
  if (value === undefined) return '(absent)'
  try {
    return canonicalJson(value)
  } catch {
    return `(not canonicalisable: ${String(value)})`
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Names the fields in which two versions of an event differ. Keys are taken from both sides, so a field
 * added to or dropped from the copy is caught as well as a changed one; `digests` is compared per digest.
 * Values are compared in canonical form (RFC 8785), the form that is hashed, so key order never counts.
 */
export function differingFields(recorded: ChainedEvent, copy: ChainedEvent): string[] {
  const a = recorded as unknown as Record<string, unknown>
  const b = copy as unknown as Record<string, unknown>
  const fields: string[] = []
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (key === 'digests' && isRecord(a[key]) && isRecord(b[key])) {
      const da = a[key] as Record<string, unknown>
      const db = b[key] as Record<string, unknown>
      for (const name of [...new Set([...Object.keys(da), ...Object.keys(db)])].sort()) {
        if (encode(da[name]) !== encode(db[name])) fields.push(`digests.${name}`)
      }
    } else if (encode(a[key]) !== encode(b[key])) {
      fields.push(key)
    }
  }
  return fields
}

function hasExpired(event: ChainedEvent, now: Date | undefined): boolean {
  if (now === undefined) return false
  const expiresAt = Date.parse(event.expires_at)
  return !Number.isNaN(expiresAt) && expiresAt <= now.getTime()
}

/**
 * Compares one tenant's events in the system of record (PostgreSQL) with the document store's copies,
 * matched by event id. Pure: the caller reads both sides (the copies mapped back with `fromEventDocument`)
 * over the same range. Results are in chain order.
 *
 * @example
 * const report = compareEventCopies(pgEvents, docs.map(fromEventDocument), { now: new Date() })
 * if (!report.consistent) console.warn(report.altered)
 */
export function compareEventCopies(
  recorded: readonly ChainedEvent[],
  copies: readonly ChainedEvent[],
  options: CompareOptions = {},
): CrossStoreReport {
  const copiesById = new Map(copies.map((copy) => [copy.id, copy]))
  const recordedIds = new Set(recorded.map((event) => event.id))
  const report: CrossStoreReport = { missing: [], extra: [], altered: [], expired: [], consistent: true }
  for (const event of recorded) {
    const copy = copiesById.get(event.id)
    if (copy === undefined) {
      ;(hasExpired(event, options.now) ? report.expired : report.missing).push(position(event))
      continue
    }
    const fields = differingFields(event, copy)
    if (fields.length > 0) report.altered.push({ ...position(event), fields })
  }
  for (const copy of copiesById.values()) {
    if (recordedIds.has(copy.id)) continue
    // Only the copy's own expires_at is available here. A forged copy dated in the past is reported as
    // expired, but such a document is also exactly what the TTL monitor deletes within a minute.
    ;(hasExpired(copy, options.now) ? report.expired : report.extra).push(position(copy))
  }
  report.missing.sort(byPosition)
  report.extra.sort(byPosition)
  report.altered.sort(byPosition)
  report.expired.sort(byPosition)
  report.consistent = report.missing.length === 0 && report.extra.length === 0 && report.altered.length === 0
  return report
}
