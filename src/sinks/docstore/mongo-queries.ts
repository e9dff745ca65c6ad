import type { AnyBulkWriteOperation, Filter, Sort } from 'mongodb'
import type { ChainRange, EventQuery } from './document-store.ts'
import type { EventDocument, LockoutDocument } from './event-document.ts'

/** Newest first; `_id` breaks ties so that pages are stable. */
export const NEWEST_FIRST: Sort = { occurred_at: -1, _id: -1 }
/** Chain order, as the cross-store check walks it. */
export const CHAIN_ORDER: Sort = { shard: 1, seq: 1 }

function withoutId<T extends { _id: string }>(doc: T): Omit<T, '_id'> {
  const { _id, ...rest } = doc
  return rest
}

/**
 * Replaces the event's copy, or inserts it: keyed by `_id` only, so a redelivery can never add a second
 * document, and a copy altered in the store is restored by the next delivery of its event.
 */
export function eventUpsertOperation(doc: EventDocument): AnyBulkWriteOperation<EventDocument> {
  return { replaceOne: { filter: { _id: doc._id }, replacement: withoutId(doc), upsert: true } }
}

/**
 * Matches the stored lockout document only if the incoming snapshot supersedes it (see
 * `snapshotSupersedes`): another shard, or a strictly lower `seq` in the same one. `$ne` also matches a
 * document without a `shard`, which then takes the snapshot.
 */
export function lockoutGuardFilter(doc: Pick<LockoutDocument, '_id' | 'shard' | 'seq'>): Filter<LockoutDocument> {
  return { _id: doc._id, $or: [{ shard: { $ne: doc.shard } }, { seq: { $lt: doc.seq } }] }
}

/**
 * A guarded replacement of a lockout document. With `upsert`, a missing document is created (its `_id`
 * comes from the filter's equality). When the document exists but is newer, the filter matches nothing and
 * the upsert's insert collides on `_id` (duplicate key): that means "a newer snapshot is stored". The same
 * collision also happens when two writers create the document at once, and then the loser's snapshot may be
 * the newer one; so a duplicate key is answered by repeating the write without `upsert`, which against an
 * existing document is conclusive.
 */
export function lockoutUpsertOperation(doc: LockoutDocument, upsert: boolean): AnyBulkWriteOperation<LockoutDocument> {
  return { replaceOne: { filter: lockoutGuardFilter(doc), replacement: withoutId(doc), upsert } }
}

/** The filter of `findEvents`: always scoped to one tenant, `from` inclusive, `to` exclusive. */
export function findEventsFilter(tenantId: string, query: EventQuery): Filter<EventDocument> {
  const filter: Filter<EventDocument> = { tenant_id: tenantId }
  if (query.organisationId !== undefined) filter.organisation_id = query.organisationId
  if (query.userId !== undefined) filter.user_id = query.userId
  if (query.ip !== undefined) filter.ip = query.ip
  if (query.from !== undefined || query.to !== undefined) {
    filter.occurred_at = {
      ...(query.from !== undefined ? { $gte: query.from } : {}),
      ...(query.to !== undefined ? { $lt: query.to } : {}),
    }
  }
  if (query.now !== undefined) filter.expires_at = { $gt: query.now }
  return filter
}

/** The filter of `listTenantEvents`: one tenant, optionally one shard and an inclusive seq range. */
export function chainRangeFilter(tenantId: string, range: ChainRange): Filter<EventDocument> {
  const filter: Filter<EventDocument> = { tenant_id: tenantId }
  if (range.shard !== undefined) filter.shard = range.shard
  if (range.fromSeq !== undefined || range.toSeq !== undefined) {
    filter.seq = {
      ...(range.fromSeq !== undefined ? { $gte: range.fromSeq } : {}),
      ...(range.toSeq !== undefined ? { $lte: range.toSeq } : {}),
    }
  }
  return filter
}

/** What the TTL monitor deletes: documents whose `expires_at` is at or before `now`. */
export function expiredFilter(now: Date): Filter<EventDocument> {
  return { expires_at: { $lte: now } }
}
