import { MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Collection, type Document, type MongoClient, type WriteError } from 'mongodb'
import type { OutboxPayload } from '../../core/auth-event.ts'
import { DocumentRejectedError, resolveFindLimit, type ChainRange, type DocumentStore, type EventQuery, type RejectedEvent } from './document-store.ts'
import { checkpointOfDocument, lockoutDocumentId, type EventDocument, type LockoutDocument } from './event-document.ts'
import {
  CHAIN_ORDER,
  NEWEST_FIRST,
  chainRangeFilter,
  eventUpsertOperation,
  expiredFilter,
  findEventsFilter,
  lockoutUpsertOperation,
} from './mongo-queries.ts'
import { COLLECTION_SPECS, EVENTS_COLLECTION, LOCKOUTS_COLLECTION, MONGO_ERROR, VALIDATION_OPTIONS, type CollectionSpec } from './mongo-schema.ts'
import { planDocumentWrites } from './plan-document-writes.ts'

export interface MongoDocumentStoreOptions {
  /** The database holding both collections. */
  dbName: string
}

/**
 * Runs an unordered bulk write and returns the per-operation failures. Anything that is not a plain write
 * error (network, write concern, a failure of the whole command) is rethrown: the relay retries the batch.
 */
async function bulkWriteFailures<T extends Document>(collection: Collection<T>, ops: AnyBulkWriteOperation<T>[]): Promise<WriteError[]> {
  if (ops.length === 0) return []
  try {
    await collection.bulkWrite(ops, { ordered: false })
    return []
  } catch (error) {
    // A write concern failure means even the "successful" writes may not be durable: retry them all.
    if (!(error instanceof MongoBulkWriteError) || error.err !== undefined || error.result.getWriteConcernError() !== undefined) throw error
    const failures = [error.writeErrors].flat()
    if (failures.length === 0) throw error
    return failures
  }
}

/** Unexpected write errors are transient as far as we know: report them all at once for the relay to retry. */
function unexpected(failures: WriteError[]): Error {
  return new Error(`document store write failed: ${failures.map((f) => `#${f.index} code ${f.code}: ${f.errmsg ?? ''}`).join('; ')}`)
}

async function applyCollectionSpec(client: MongoClient, dbName: string, spec: CollectionSpec): Promise<void> {
  const db = client.db(dbName)
  const exists = (await db.listCollections({ name: spec.name }, { nameOnly: true }).toArray()).length > 0
  let created = false
  if (!exists) {
    try {
      await db.createCollection(spec.name, { validator: spec.validator, ...VALIDATION_OPTIONS })
      created = true
    } catch (error) {
      // Another instance starting at the same moment created it first: fall through to collMod.
      if (!(error instanceof MongoServerError && error.code === MONGO_ERROR.namespaceExists)) throw error
    }
  }
  // collMod on every start brings an existing collection's validator up to this version's.
  if (!created) await db.command({ collMod: spec.name, validator: spec.validator, ...VALIDATION_OPTIONS })
  if (spec.indexes.length > 0) {
    await db.collection(spec.name).createIndexes(spec.indexes.map((index) => ({ ...index, key: { ...index.key } })))
  }
}

/**
 * The document store on MongoDB (official driver). Takes ownership of `client`: `close()` closes it.
 * Call `ensureSchema()` once at start-up before delivering.
 *
 * @example
 * const store = createMongoDocumentStore(new MongoClient(env.MONGO_URL), { dbName: env.MONGO_DB })
 * await store.ensureSchema()
 * const sink = createDocumentStoreSink(store)
 */
export function createMongoDocumentStore(client: MongoClient, options: MongoDocumentStoreOptions): DocumentStore {
  const db = client.db(options.dbName)
  const events = db.collection<EventDocument>(EVENTS_COLLECTION)
  const lockouts = db.collection<LockoutDocument>(LOCKOUTS_COLLECTION)

  async function upsertEventDocuments(docs: EventDocument[], rejected: RejectedEvent[]): Promise<void> {
    let pending = docs
    // Two rounds: a duplicate key on `_id` is a race between two writers of the same event and succeeds when
    // repeated; one that persists is another event holding this chain position, which never will.
    for (let round = 1; pending.length > 0; round++) {
      const failures = await bulkWriteFailures(events, pending.map(eventUpsertOperation))
      const retry: EventDocument[] = []
      const other: WriteError[] = []
      for (const failure of failures) {
        const doc = pending[failure.index]!
        if (failure.code === MONGO_ERROR.documentValidationFailure) {
          rejected.push({ eventId: doc._id, reason: `document failed validation: ${failure.errmsg ?? ''}` })
        } else if (failure.code === MONGO_ERROR.duplicateKey && round === 1) {
          retry.push(doc)
        } else if (failure.code === MONGO_ERROR.duplicateKey) {
          rejected.push({ eventId: doc._id, reason: `chain position (${doc.shard}, ${doc.seq}) is held by another event` })
        } else {
          other.push(failure)
        }
      }
      if (other.length > 0) throw unexpected(other)
      pending = retry
    }
  }

  async function mirrorLockouts(entries: { document: LockoutDocument; eventId: string }[], rejected: RejectedEvent[]): Promise<void> {
    let pending = entries
    // Round 1 upserts; a duplicate key means the document exists, so round 2 repeats the guarded write
    // without upsert, which either applies the snapshot or finds a newer one stored and does nothing.
    for (let round = 1; pending.length > 0; round++) {
      const failures = await bulkWriteFailures(lockouts, pending.map((e) => lockoutUpsertOperation(e.document, round === 1)))
      const retry: typeof entries = []
      const other: WriteError[] = []
      for (const failure of failures) {
        const entry = pending[failure.index]!
        if (failure.code === MONGO_ERROR.documentValidationFailure) {
          rejected.push({ eventId: entry.eventId, reason: `lockout document failed validation: ${failure.errmsg ?? ''}` })
        } else if (failure.code === MONGO_ERROR.duplicateKey && round === 1) {
          retry.push(entry)
        } else {
          other.push(failure)
        }
      }
      if (other.length > 0) throw unexpected(other)
      pending = retry
    }
  }

  return {
    async ensureSchema() {
      for (const spec of COLLECTION_SPECS) await applyCollectionSpec(client, options.dbName, spec)
    },

    async upsertEvents(batch: readonly OutboxPayload[]) {
      const plan = planDocumentWrites(batch)
      const rejected: RejectedEvent[] = [...plan.rejected]
      await upsertEventDocuments(plan.events, rejected)
      await mirrorLockouts(plan.lockouts, rejected)
      if (rejected.length > 0) throw new DocumentRejectedError(rejected)
    },

    async findEvents(tenantId: string, query: EventQuery = {}) {
      const limit = resolveFindLimit(query.limit)
      return events.find(findEventsFilter(tenantId, query)).sort(NEWEST_FIRST).limit(limit).toArray()
    },

    async listTenantEvents(tenantId: string, range: ChainRange = {}) {
      return events.find(chainRangeFilter(tenantId, range)).sort(CHAIN_ORDER).toArray()
    },

    async listChainCheckpoints(tenantId: string) {
      const docs = await events.find({ tenant_id: tenantId, event_type: 'chain_checkpoint' }).sort(CHAIN_ORDER).toArray()
      return docs.flatMap((doc) => checkpointOfDocument(doc) ?? [])
    },

    async getLockout(tenantId: string, identifier: string) {
      return lockouts.findOne({ _id: lockoutDocumentId(tenantId, identifier) })
    },

    async removeExpired(now: Date) {
      // The TTL index does this in production; doing it here lets tests observe expiry without waiting.
      const result = await events.deleteMany(expiredFilter(now))
      return result.deletedCount
    },

    async close() {
      await client.close()
    },
  }
}
