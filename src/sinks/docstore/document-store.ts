import type { OutboxPayload } from '../../core/auth-event.ts'
import type { SignedCheckpoint } from '../../core/checkpoint.ts'
import type { EventDocument, LockoutDocument } from './event-document.ts'

/** How many events `findEvents` returns when no limit is given, and the most it will return. */
export const DEFAULT_FIND_LIMIT = 100
export const MAX_FIND_LIMIT = 1000

/** Narrows `findEvents`. `from` is inclusive, `to` exclusive, so adjacent windows never overlap. */
export interface EventQuery {
  from?: Date
  to?: Date
  organisationId?: string
  userId?: string
  ip?: string
  /** 1 to {@link MAX_FIND_LIMIT}; {@link DEFAULT_FIND_LIMIT} when omitted. */
  limit?: number
  /**
   * When given, events whose `expires_at` is at or before it are left out. MongoDB's TTL monitor runs about
   * once a minute, so without this a read may still see an event whose retention has ended.
   */
  now?: Date
}

/** A slice of one tenant's chains, for comparing them with the system of record. Bounds are inclusive. */
export interface ChainRange {
  shard?: number
  fromSeq?: number
  toSeq?: number
}

/** Why one event of a batch was refused. */
export interface RejectedEvent {
  eventId: string
  reason: string
}

/**
 * Raised by `upsertEvents` when some events of a batch can never be stored (they fail validation, or another
 * event already holds their chain position). Every other event of the batch has been written: retrying the
 * batch without the rejected events is safe and necessary.
 */
export class DocumentRejectedError extends Error {
  constructor(readonly rejected: readonly RejectedEvent[]) {
    super(`document store rejected ${rejected.length} event(s): ${rejected.map((r) => `${r.eventId} (${r.reason})`).join('; ')}`)
    this.name = 'DocumentRejectedError'
  }
}

/**
 * The queryable copy of the audit trail, fed by the outbox relay. PostgreSQL stays the system of record;
 * this store only has to converge to it, so every write is an idempotent upsert keyed by the event id and
 * lockout snapshots are applied only when newer than what is stored.
 *
 * Implementations: `createMongoDocumentStore` (production) and `createMemoryDocumentStore` (tests,
 * development). Both pass `describeDocumentStoreContract`.
 */
export interface DocumentStore {
  /** Creates collections, validators and indexes, or brings them up to date. Safe to call at every start. */
  ensureSchema(): Promise<void>
  /**
   * Stores each event (replacing any earlier copy with the same id) and mirrors each lockout snapshot unless
   * a newer one is stored. Delivering the same batch twice leaves the store as after the first time.
   * Throws {@link DocumentRejectedError} for events that can never be stored, after writing the rest.
   */
  upsertEvents(batch: readonly OutboxPayload[]): Promise<void>
  /** A tenant's events, newest first (`occurred_at` then `_id`, both descending). */
  findEvents(tenantId: string, query?: EventQuery): Promise<EventDocument[]>
  /** A tenant's events in chain order (`shard`, then `seq`, ascending), for the cross-store check. */
  listTenantEvents(tenantId: string, range?: ChainRange): Promise<EventDocument[]>
  /**
   * The signed chain checkpoints among a tenant's events (`chain_checkpoint`), in chain order: the
   * document store's copies, an anchor that verification compares PostgreSQL with.
   */
  listChainCheckpoints(tenantId: string): Promise<SignedCheckpoint[]>
  /** The mirrored lockout state of one normalised identifier, or null if none was ever delivered. */
  getLockout(tenantId: string, identifier: string): Promise<LockoutDocument | null>
  /**
   * Deletes events whose `expires_at` is at or before `now` and returns how many. This is what MongoDB's TTL
   * monitor does on its own in the background; the in-memory store has no such monitor, and tests use this to
   * observe expiry without waiting for one.
   */
  removeExpired(now: Date): Promise<number>
  close(): Promise<void>
}

/** Checks a query's limit; a caller asking for more than the store will return is a bug, not a hint. */
export function resolveFindLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_FIND_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FIND_LIMIT) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_FIND_LIMIT}`)
  }
  return limit
}
