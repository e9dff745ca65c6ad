import type { SignedCheckpoint } from '../../core/checkpoint.ts'
import { EVENT_FIELDS, type ChainedEvent, type EventField, type LockoutSnapshot } from '../../core/auth-event.ts'

/**
 * One audit event as the document store holds it: the chained event with `_id` for `id`, so a redelivered
 * event replaces its earlier copy instead of adding a second one. The two timestamps are BSON dates (range
 * queries and the TTL index need them; `expires_at` is the event's own, fixed at ingestion from the tenant's
 * retention, never recomputed here); everything else keeps the event's own representation, digests and
 * links in hex.
 */
export type EventDocument = { _id: string } & Omit<ChainedEvent, 'id' | 'occurred_at' | 'expires_at'> & { occurred_at: Date; expires_at: Date }

/** The event fields a document copies as they are (`id` becomes `_id`; the instants become dates). */
const COPIED_FIELDS = EVENT_FIELDS.filter((field): field is Exclude<EventField, 'id' | 'occurred_at' | 'expires_at'> => !['id', 'occurred_at', 'expires_at'].includes(field))

/**
 * The mirrored lockout state of one identifier. `shard`/`seq` are the chain position of the event that
 * produced the snapshot and decide which of two snapshots is newer.
 */
export interface LockoutDocument {
  _id: string
  tenant_id: string
  identifier: string
  user_id: string | null
  failed_login_attempts: number
  account_locked_until: Date | null
  last_failed_at: Date | null
  lockout_count: number
  shard: number
  seq: number
}

/** Raised when an event cannot be represented as a document; the event is poison for this store. */
export class EventMappingError extends Error {
  constructor(message: string, readonly eventId: string) {
    super(message)
    this.name = 'EventMappingError'
  }
}

/**
 * Parses a hashed timestamp, insisting on the exact `Date.prototype.toISOString` form. The document keeps
 * only the BSON date, so the canonical text must be recoverable from it; any other spelling of the same
 * instant (an offset, microseconds, no milliseconds) would come back different and break the digests.
 * The system of record has the same constraint (`timestamptz` columns), so this refuses nothing valid.
 */
function parseCanonicalInstant(text: string, field: string, eventId: string): Date {
  const date = new Date(text)
  if (Number.isNaN(date.getTime()) || date.toISOString() !== text) {
    throw new EventMappingError(`${field} is not a canonical UTC timestamp (YYYY-MM-DDTHH:mm:ss.sssZ): ${JSON.stringify(text)}`, eventId)
  }
  return date
}

function parseInstant(text: string | null, field: string, eventId: string): Date | null {
  if (text === null) return null
  const date = new Date(text)
  if (Number.isNaN(date.getTime())) throw new EventMappingError(`${field} is not a timestamp: ${JSON.stringify(text)}`, eventId)
  return date
}

/**
 * Maps a chained event to its document.
 *
 * @example
 * const doc = toEventDocument(chained)
 * doc._id === chained.id && doc.occurred_at instanceof Date
 */
export function toEventDocument(event: ChainedEvent): EventDocument {
  const doc: Record<string, unknown> = { _id: event.id }
  for (const field of EVENT_FIELDS) doc[field === 'id' ? '_id' : field] = event[field]
  doc.occurred_at = parseCanonicalInstant(event.occurred_at, 'occurred_at', event.id)
  doc.expires_at = parseCanonicalInstant(event.expires_at, 'expires_at', event.id)
  // Cloned whole, not rebuilt field by field: any key present was hashed and must survive.
  doc.risk = structuredClone(event.risk)
  doc.metadata = structuredClone(event.metadata)
  doc.digests = { sha256: event.digests.sha256, sha512: event.digests.sha512, sha3_256: event.digests.sha3_256 }
  doc.prev_hash = event.prev_hash
  doc.chain_hash = event.chain_hash
  return doc as EventDocument
}

/**
 * Maps a document back to the chained event it claims to be: the canonical fields (from which a verifier
 * recomputes the digests) plus the stored digests and links. Fields unknown to {@link EventDocument} are
 * ignored; a missing one comes back `undefined`, so the digests no longer match.
 */
export function fromEventDocument(doc: EventDocument): ChainedEvent {
  const event: Record<string, unknown> = { id: doc._id }
  for (const field of COPIED_FIELDS) event[field] = doc[field]
  event.occurred_at = isoOrInvalid(doc.occurred_at)
  event.expires_at = isoOrInvalid(doc.expires_at)
  event.digests = doc.digests
  event.prev_hash = doc.prev_hash
  event.chain_hash = doc.chain_hash
  return event as unknown as ChainedEvent
}

// A tampered document may hold anything; the comparison must report it, not crash on it.
function isoOrInvalid(value: unknown): string {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : `invalid:${String(value)}`
}

/**
 * The `_id` of a lockout document. Tenant ids are UUIDs and hold no colon, so the key is unambiguous
 * whatever the identifier contains.
 */
export function lockoutDocumentId(tenantId: string, identifier: string): string {
  return `${tenantId}:${identifier}`
}

/** Maps a lockout snapshot to its document; `eventId` names the carrying event if the snapshot is malformed. */
export function toLockoutDocument(snapshot: LockoutSnapshot, eventId: string): LockoutDocument {
  return {
    _id: lockoutDocumentId(snapshot.tenant_id, snapshot.identifier),
    tenant_id: snapshot.tenant_id,
    identifier: snapshot.identifier,
    user_id: snapshot.user_id,
    failed_login_attempts: snapshot.failed_login_attempts,
    account_locked_until: parseInstant(snapshot.account_locked_until, 'account_locked_until', eventId),
    last_failed_at: parseInstant(snapshot.last_failed_at, 'last_failed_at', eventId),
    lockout_count: snapshot.lockout_count,
    shard: snapshot.shard,
    seq: snapshot.seq,
  }
}

/**
 * Whether an incoming snapshot may replace the stored one. Within a shard, only a strictly higher `seq`
 * wins, so replays and late redeliveries are no-ops. Sequence numbers of different shards are not
 * comparable; an identifier changes shard only when its tenant's shard count changes, and then the snapshot
 * from the other shard is taken as the newer one (the alternative, ordering by shard number, could freeze
 * the mirror for good).
 */
export function snapshotSupersedes(
  stored: Pick<LockoutDocument, 'shard' | 'seq'> | null,
  incoming: Pick<LockoutDocument, 'shard' | 'seq'>,
): boolean {
  return stored === null || stored.shard !== incoming.shard || stored.seq < incoming.seq
}

/**
 * The signed checkpoint a `chain_checkpoint` document carries, or null when it carries none (another
 * type, or metadata that is not a checkpoint). Verification checks the signature.
 */
export function checkpointOfDocument(doc: EventDocument): SignedCheckpoint | null {
  if (doc.event_type !== 'chain_checkpoint') return null
  const m = doc.metadata as Record<string, unknown>
  const ok = typeof m.checkpoint_seq === 'number' && typeof m.chain_hash === 'string' && typeof m.signed_at === 'string' && typeof m.key_id === 'string' && typeof m.signature === 'string'
  if (!ok) return null
  return {
    tenantId: doc.tenant_id,
    shard: doc.shard,
    seq: m.checkpoint_seq as number,
    chainHash: m.chain_hash as string,
    signedAt: m.signed_at as string,
    keyId: m.key_id as string,
    signature: m.signature as string,
  }
}
