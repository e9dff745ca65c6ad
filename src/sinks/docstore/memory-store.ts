import type { OutboxPayload } from '../../core/auth-event.ts'
import { DocumentRejectedError, resolveFindLimit, type ChainRange, type DocumentStore, type EventQuery, type RejectedEvent } from './document-store.ts'
import { checkpointOfDocument, lockoutDocumentId, snapshotSupersedes, type EventDocument, type LockoutDocument } from './event-document.ts'
import { EVENTS_COLLECTION_SPEC, LOCKOUTS_COLLECTION_SPEC } from './mongo-schema.ts'
import { planDocumentWrites } from './plan-document-writes.ts'
import { validateDocument } from './validate-document.ts'

const positionKey = (doc: Pick<EventDocument, 'tenant_id' | 'shard' | 'seq'>) => `${doc.tenant_id}\u0000${doc.shard}\u0000${doc.seq}`

function newestFirst(a: EventDocument, b: EventDocument): number {
  const byTime = b.occurred_at.getTime() - a.occurred_at.getTime()
  if (byTime !== 0) return byTime
  return a._id < b._id ? 1 : a._id > b._id ? -1 : 0
}

function matchesQuery(doc: EventDocument, tenantId: string, query: EventQuery): boolean {
  const t = doc.occurred_at.getTime()
  return (
    doc.tenant_id === tenantId &&
    (query.organisationId === undefined || doc.organisation_id === query.organisationId) &&
    (query.userId === undefined || doc.user_id === query.userId) &&
    (query.ip === undefined || doc.ip === query.ip) &&
    (query.from === undefined || t >= query.from.getTime()) &&
    (query.to === undefined || t < query.to.getTime()) &&
    (query.now === undefined || doc.expires_at.getTime() > query.now.getTime())
  )
}

function inRange(doc: EventDocument, tenantId: string, range: ChainRange): boolean {
  return (
    doc.tenant_id === tenantId &&
    (range.shard === undefined || doc.shard === range.shard) &&
    (range.fromSeq === undefined || doc.seq >= range.fromSeq) &&
    (range.toSeq === undefined || doc.seq <= range.toSeq)
  )
}

/**
 * A document store in process memory with the MongoDB adapter's semantics: upsert by `_id`, the unique
 * chain position, the same `$jsonSchema` validators (interpreted by `validateDocument`), the lockout
 * sequence guard, and expiry on `removeExpired(now)` in place of the TTL monitor. Documents are copied in
 * and out, so callers can no more alter stored state than they could in MongoDB. For tests and development.
 *
 * @example
 * const store = createMemoryDocumentStore()
 * await store.upsertEvents([{ event, lockout: null }])
 * await store.findEvents(event.tenant_id, { userId: event.user_id ?? undefined })
 */
export function createMemoryDocumentStore(): DocumentStore {
  const events = new Map<string, EventDocument>()
  const positions = new Map<string, string>()
  const lockouts = new Map<string, LockoutDocument>()

  const deleteEvent = (id: string) => {
    const doc = events.get(id)
    if (doc === undefined) return
    events.delete(id)
    positions.delete(positionKey(doc))
  }

  return {
    async ensureSchema() {},

    async upsertEvents(batch: readonly OutboxPayload[]) {
      const plan = planDocumentWrites(batch)
      const rejected: RejectedEvent[] = [...plan.rejected]
      for (const doc of plan.events) {
        const problems = validateDocument(doc, EVENTS_COLLECTION_SPEC.validator.$jsonSchema)
        if (problems.length > 0) {
          rejected.push({ eventId: doc._id, reason: `document failed validation: ${problems.join('; ')}` })
          continue
        }
        const holder = positions.get(positionKey(doc))
        if (holder !== undefined && holder !== doc._id) {
          rejected.push({ eventId: doc._id, reason: `chain position (${doc.shard}, ${doc.seq}) is held by event ${holder}` })
          continue
        }
        deleteEvent(doc._id)
        events.set(doc._id, structuredClone(doc))
        positions.set(positionKey(doc), doc._id)
      }
      for (const { document, eventId } of plan.lockouts) {
        const problems = validateDocument(document, LOCKOUTS_COLLECTION_SPEC.validator.$jsonSchema)
        if (problems.length > 0) {
          rejected.push({ eventId, reason: `lockout document failed validation: ${problems.join('; ')}` })
          continue
        }
        if (snapshotSupersedes(lockouts.get(document._id) ?? null, document)) lockouts.set(document._id, structuredClone(document))
      }
      if (rejected.length > 0) throw new DocumentRejectedError(rejected)
    },

    async findEvents(tenantId: string, query: EventQuery = {}) {
      const limit = resolveFindLimit(query.limit)
      return [...events.values()]
        .filter((doc) => matchesQuery(doc, tenantId, query))
        .sort(newestFirst)
        .slice(0, limit)
        .map((doc) => structuredClone(doc))
    },

    async listTenantEvents(tenantId: string, range: ChainRange = {}) {
      return [...events.values()]
        .filter((doc) => inRange(doc, tenantId, range))
        .sort((a, b) => a.shard - b.shard || a.seq - b.seq)
        .map((doc) => structuredClone(doc))
    },

    async listChainCheckpoints(tenantId: string) {
      return [...events.values()]
        .filter((doc) => doc.tenant_id === tenantId && doc.event_type === 'chain_checkpoint')
        .sort((a, b) => a.shard - b.shard || a.seq - b.seq)
        .flatMap((doc) => checkpointOfDocument(doc) ?? [])
    },

    async getLockout(tenantId: string, identifier: string) {
      const doc = lockouts.get(lockoutDocumentId(tenantId, identifier))
      return doc === undefined ? null : structuredClone(doc)
    },

    async removeExpired(now: Date) {
      const expired = [...events.values()].filter((doc) => doc.expires_at.getTime() <= now.getTime())
      for (const doc of expired) deleteEvent(doc._id)
      return expired.length
    },

    async close() {},
  }
}
