import { BSON, MongoBulkWriteError, MongoClient, MongoServerError } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHANNELS, EVENT_TYPES, OUTCOMES } from '../src/core/event-types.ts'
import { DocumentRejectedError } from '../src/sinks/docstore/document-store.ts'
import {
  EventMappingError,
  fromEventDocument,
  lockoutDocumentId,
  snapshotSupersedes,
  toEventDocument,
  toLockoutDocument,
} from '../src/sinks/docstore/event-document.ts'
import {
  chainRangeFilter,
  eventUpsertOperation,
  expiredFilter,
  findEventsFilter,
  lockoutGuardFilter,
  lockoutUpsertOperation,
} from '../src/sinks/docstore/mongo-queries.ts'
import {
  EVENTS_COLLECTION,
  EVENTS_COLLECTION_SPEC,
  LOCKOUTS_COLLECTION,
  LOCKOUTS_COLLECTION_SPEC,
} from '../src/sinks/docstore/mongo-schema.ts'
import { createMongoDocumentStore } from '../src/sinks/docstore/mongodb-store.ts'
import { bsonTypeOf, validateDocument } from '../src/sinks/docstore/validate-document.ts'
import { describeDocumentStoreContract, type ListedIndex } from './support/docstore-contract.ts'
import { makeChain, makeLockoutSnapshot, payloads } from './support/docstore-fixtures.ts'

const MONGO_URL = process.env.MONGO_URL

// Only with a server: `MONGO_URL=mongodb://127.0.0.1:27017 npx vitest run test/docstore-mongodb.test.ts`.
// Each store gets a database of its own, dropped afterwards.
describe.runIf(MONGO_URL !== undefined && MONGO_URL !== '')('mongodb document store against a server', () => {
  let admin: MongoClient
  let currentDb = ''
  const databases: string[] = []

  beforeAll(async () => {
    admin = new MongoClient(MONGO_URL!)
    await admin.connect()
  })
  afterAll(async () => {
    for (const name of databases) await admin.db(name).dropDatabase()
    await admin.close()
  })

  describeDocumentStoreContract(
    'mongodb',
    async () => {
      currentDb = `authtrail_test_${crypto.randomUUID().replaceAll('-', '')}`
      databases.push(currentDb)
      return createMongoDocumentStore(new MongoClient(MONGO_URL!), { dbName: currentDb })
    },
    { listEventIndexes: async () => (await admin.db(currentDb).collection(EVENTS_COLLECTION).listIndexes().toArray()) as ListedIndex[] },
  )
})

const tenant = '0193a6f2-0000-7000-8000-000000000001'
const [event] = makeChain(tenant, 5, [{}])
const doc = toEventDocument(event!)

describe('event document mapping', () => {
  it('keys the document by event id and turns the two timestamps into Dates', () => {
    expect(doc._id).toBe(event!.id)
    expect(doc.occurred_at).toEqual(new Date(event!.occurred_at))
    expect(doc.expires_at).toEqual(new Date(event!.expires_at))
    expect(doc).not.toHaveProperty('id')
    expect([doc.shard, doc.seq, doc.chain_hash, doc.digests]).toEqual([5, 1, event!.chain_hash, event!.digests])
  })

  it('maps back to the very event, also after a trip through BSON as the driver encodes it', () => {
    expect(fromEventDocument(doc)).toEqual(event)
    const decoded = BSON.deserialize(BSON.serialize(doc)) as typeof doc
    expect(fromEventDocument(decoded)).toEqual(event)
  })

  it.each([
    ['an offset instead of Z', '2026-11-23T10:00:00.000+00:00'],
    ['microseconds', '2026-11-23T10:00:00.000123Z'],
    ['no milliseconds', '2026-11-23T10:00:00Z'],
    ['not a date', 'yesterday'],
  ])('refuses a timestamp with %s, which would not come back as the hashed text', (_, text) => {
    expect(() => toEventDocument({ ...event!, occurred_at: text })).toThrow(EventMappingError)
  })

  it('maps a lockout snapshot under a tenant-scoped id', () => {
    const lockout = toLockoutDocument(makeLockoutSnapshot(event!, { identifier: 'a:b@example.com' }), event!.id)
    expect(lockout._id).toBe(`${tenant}:a:b@example.com`)
    expect(lockout._id).toBe(lockoutDocumentId(tenant, 'a:b@example.com'))
    expect(lockout.last_failed_at).toEqual(new Date(event!.occurred_at))
  })
})

describe('lockout sequence guard', () => {
  it.each([
    [null, { shard: 1, seq: 1 }, true],
    [{ shard: 1, seq: 4 }, { shard: 1, seq: 5 }, true],
    [{ shard: 1, seq: 5 }, { shard: 1, seq: 5 }, false],
    [{ shard: 1, seq: 6 }, { shard: 1, seq: 5 }, false],
    [{ shard: 2, seq: 9 }, { shard: 1, seq: 1 }, true],
  ])('stored %o, incoming %o: supersedes = %s', (stored, incoming, expected) => {
    expect(snapshotSupersedes(stored, incoming)).toBe(expected)
  })

  it('encodes the same rule as a filter: matches only a document the snapshot supersedes', () => {
    expect(lockoutGuardFilter({ _id: 't:x', shard: 1, seq: 5 })).toEqual({ _id: 't:x', $or: [{ shard: { $ne: 1 } }, { seq: { $lt: 5 } }] })
  })

  it('replaces the whole document, upserting only when asked', () => {
    const lockout = toLockoutDocument(makeLockoutSnapshot(event!), event!.id)
    const { _id, ...rest } = lockout
    expect(lockoutUpsertOperation(lockout, true)).toEqual({ replaceOne: { filter: lockoutGuardFilter(lockout), replacement: rest, upsert: true } })
    expect(lockoutUpsertOperation(lockout, false)).toMatchObject({ replaceOne: { upsert: false } })
  })
})

describe('mongo queries', () => {
  it('upserts an event by _id alone, with the whole document as replacement', () => {
    const { _id, ...rest } = doc
    expect(eventUpsertOperation(doc)).toEqual({ replaceOne: { filter: { _id }, replacement: rest, upsert: true } })
  })

  it('scopes every read to the tenant', () => {
    const from = new Date('2026-01-01T00:00:00.000Z')
    const to = new Date('2026-02-01T00:00:00.000Z')
    const now = new Date('2026-03-01T00:00:00.000Z')
    expect(findEventsFilter(tenant, {})).toEqual({ tenant_id: tenant })
    expect(findEventsFilter(tenant, { from, to, userId: 'u', ip: '::1', organisationId: 'o', now })).toEqual({
      tenant_id: tenant,
      organisation_id: 'o',
      user_id: 'u',
      ip: '::1',
      occurred_at: { $gte: from, $lt: to },
      expires_at: { $gt: now },
    })
    expect(chainRangeFilter(tenant, { shard: 3, fromSeq: 10, toSeq: 20 })).toEqual({ tenant_id: tenant, shard: 3, seq: { $gte: 10, $lte: 20 } })
    expect(chainRangeFilter(tenant, { toSeq: 20 })).toEqual({ tenant_id: tenant, seq: { $lte: 20 } })
    expect(expiredFilter(now)).toEqual({ expires_at: { $lte: now } })
  })
})

describe('mongo schema specs', () => {
  const indexes = EVENTS_COLLECTION_SPEC.indexes

  it('expires events through a TTL index on expires_at with expireAfterSeconds 0', () => {
    const ttl = indexes.filter((i) => i.expireAfterSeconds !== undefined)
    expect(ttl).toEqual([{ name: 'auth_events_expires_at_ttl', key: { expires_at: 1 }, expireAfterSeconds: 0 }])
  })

  it('makes the chain position unique and serves every tenant query from an index ending in _id', () => {
    expect(indexes.filter((i) => i.unique)).toEqual([{ name: 'auth_events_chain_position', key: { tenant_id: 1, shard: 1, seq: 1 }, unique: true }])
    const keys = indexes.map((i) => Object.keys(i.key).join(','))
    for (const field of ['organisation_id', 'user_id', 'ip']) expect(keys).toContain(`tenant_id,${field},occurred_at,_id`)
    expect(keys).toContain('tenant_id,occurred_at,_id')
    expect(new Set(indexes.map((i) => i.name)).size).toBe(indexes.length)
  })

  it('requires exactly the fields an event document has, with the closed sets of the core', () => {
    const schema = EVENTS_COLLECTION_SPEC.validator.$jsonSchema
    expect([...schema.required!].sort()).toEqual(Object.keys(doc).sort())
    expect(Object.keys(schema.properties!).sort()).toEqual(Object.keys(doc).sort())
    expect(schema.properties!.event_type!.enum).toEqual(EVENT_TYPES)
    expect(schema.properties!.channel!.enum).toEqual(CHANNELS)
    expect(schema.properties!.outcome!.enum).toEqual(OUTCOMES)
    expect(schema.properties!.occurred_at!.bsonType).toBe('date')
    expect(schema.properties!.expires_at!.bsonType).toBe('date')
  })

  it('accepts a mapped event and lockout, and refuses wrong types', () => {
    const schema = EVENTS_COLLECTION_SPEC.validator.$jsonSchema
    expect(validateDocument(doc, schema)).toEqual([])
    const lockout = toLockoutDocument(makeLockoutSnapshot(event!), event!.id)
    expect(validateDocument(lockout, LOCKOUTS_COLLECTION_SPEC.validator.$jsonSchema)).toEqual([])
    expect(validateDocument({ ...doc, occurred_at: event!.occurred_at }, schema)).toEqual(['occurred_at: expected date, got string'])
    expect(validateDocument({ ...doc, shard: 1.5 }, schema)).toEqual(['shard: expected int, got double'])
    expect(validateDocument({ ...doc, seq: 0 }, schema)).toEqual(['seq: below 1'])
    const { risk: _, ...withoutRisk } = doc
    expect(validateDocument(withoutRisk, schema)).toEqual(['risk: is required'])
  })

  it('predicts the BSON type the driver writes for each JavaScript value', () => {
    const samples = { int: 5, negativeInt: -7, bigInt: 2 ** 40, int32Edge: 2 ** 31, fraction: 1.5, negativeZero: -0 }
    const decoded = BSON.deserialize(BSON.serialize(samples), { promoteValues: false }) as Record<string, { _bsontype: string }>
    for (const [key, value] of Object.entries(samples)) {
      const written = decoded[key]!._bsontype === 'Int32' ? 'int' : 'double'
      expect([key, bsonTypeOf(value)]).toEqual([key, written])
    }
  })
})

// The adapter's control flow against a stand-in for the driver: which commands it sends, and how it reads
// write errors. Whether a real server answers as the stand-in does is what the suite above checks.
describe('mongodb adapter control flow (stubbed driver)', () => {
  type BulkAnswer = { code: number }[] | Error | undefined
  function stubClient(options: { existing?: string[]; createError?: Error; bulk?: Record<string, BulkAnswer[]> } = {}) {
    const calls: { what: string; collection?: string; args: unknown[] }[] = []
    const answers = { ...options.bulk }
    const collection = (name: string) => ({
      async bulkWrite(...args: unknown[]) {
        calls.push({ what: 'bulkWrite', collection: name, args })
        const answer = answers[name]?.shift()
        if (answer instanceof Error) throw answer
        if (answer !== undefined && answer.length > 0) {
          const writeErrors = answer.map((a, index) => ({ ...a, index, errmsg: `code ${a.code}` }))
          throw new MongoBulkWriteError({ message: 'write failed', code: answer[0]!.code, writeErrors } as never, {
            getWriteConcernError: () => undefined,
          } as never)
        }
        return {}
      },
      async createIndexes(...args: unknown[]) {
        calls.push({ what: 'createIndexes', collection: name, args })
        return []
      },
    })
    const db = {
      collection,
      listCollections: (filter: { name: string }) => ({
        toArray: async () => ((options.existing ?? []).includes(filter.name) ? [{ name: filter.name }] : []),
      }),
      async createCollection(name: string, ...args: unknown[]) {
        calls.push({ what: 'createCollection', collection: name, args })
        if (options.createError !== undefined) throw options.createError
      },
      async command(command: Record<string, unknown>) {
        calls.push({ what: 'command', collection: String(command.collMod), args: [command] })
        return { ok: 1 }
      },
    }
    const client = { db: () => db, close: async () => {} } as unknown as MongoClient
    return { client, calls }
  }
  const what = (calls: { what: string; collection?: string }[]) => calls.map((c) => `${c.what} ${c.collection}`)

  it('creates missing collections with their validators, then their indexes', async () => {
    const { client, calls } = stubClient()
    await createMongoDocumentStore(client, { dbName: 'x' }).ensureSchema()
    expect(what(calls)).toEqual([`createCollection ${EVENTS_COLLECTION}`, `createIndexes ${EVENTS_COLLECTION}`, `createCollection ${LOCKOUTS_COLLECTION}`])
    expect(calls[0]!.args[0]).toEqual({ validator: EVENTS_COLLECTION_SPEC.validator, validationLevel: 'strict', validationAction: 'error' })
    expect(calls[1]!.args[0]).toEqual(EVENTS_COLLECTION_SPEC.indexes)
  })

  it('updates the validators of existing collections with collMod', async () => {
    const { client, calls } = stubClient({ existing: [EVENTS_COLLECTION, LOCKOUTS_COLLECTION] })
    await createMongoDocumentStore(client, { dbName: 'x' }).ensureSchema()
    expect(what(calls)).toEqual([`command ${EVENTS_COLLECTION}`, `createIndexes ${EVENTS_COLLECTION}`, `command ${LOCKOUTS_COLLECTION}`])
    expect(calls[0]!.args[0]).toMatchObject({ collMod: EVENTS_COLLECTION, validator: EVENTS_COLLECTION_SPEC.validator, validationLevel: 'strict' })
  })

  it('falls back to collMod when another instance created the collection first', async () => {
    const { client, calls } = stubClient({ createError: new MongoServerError({ message: 'exists', code: 48 }) })
    await createMongoDocumentStore(client, { dbName: 'x' }).ensureSchema()
    expect(what(calls).slice(0, 3)).toEqual([`createCollection ${EVENTS_COLLECTION}`, `command ${EVENTS_COLLECTION}`, `createIndexes ${EVENTS_COLLECTION}`])
  })

  it('writes events as unordered upserts and lockouts as guarded upserts', async () => {
    const { client, calls } = stubClient()
    await createMongoDocumentStore(client, { dbName: 'x' }).upsertEvents([{ event: event!, lockout: makeLockoutSnapshot(event!) }])
    expect(what(calls)).toEqual([`bulkWrite ${EVENTS_COLLECTION}`, `bulkWrite ${LOCKOUTS_COLLECTION}`])
    expect(calls[0]!.args).toEqual([[eventUpsertOperation(doc)], { ordered: false }])
    const lockout = toLockoutDocument(makeLockoutSnapshot(event!), event!.id)
    expect(calls[1]!.args).toEqual([[lockoutUpsertOperation(lockout, true)], { ordered: false }])
  })

  it('answers a duplicate key on a lockout upsert by repeating the guarded write without upsert', async () => {
    const { client, calls } = stubClient({ bulk: { [LOCKOUTS_COLLECTION]: [[{ code: 11000 }], undefined] } })
    await createMongoDocumentStore(client, { dbName: 'x' }).upsertEvents([{ event: event!, lockout: makeLockoutSnapshot(event!) }])
    const lockout = toLockoutDocument(makeLockoutSnapshot(event!), event!.id)
    expect(calls.slice(1).map((c) => c.args[0])).toEqual([[lockoutUpsertOperation(lockout, true)], [lockoutUpsertOperation(lockout, false)]])
  })

  it('retries an event upsert once on a duplicate key (two writers of one event) and then succeeds', async () => {
    const { client, calls } = stubClient({ bulk: { [EVENTS_COLLECTION]: [[{ code: 11000 }], undefined] } })
    await createMongoDocumentStore(client, { dbName: 'x' }).upsertEvents(payloads([event!]))
    expect(what(calls)).toEqual([`bulkWrite ${EVENTS_COLLECTION}`, `bulkWrite ${EVENTS_COLLECTION}`])
  })

  it('rejects an event whose duplicate key persists (its chain position is held) or that fails validation', async () => {
    const chain = makeChain(tenant, 0, [{}, {}])
    const { client } = stubClient({ bulk: { [EVENTS_COLLECTION]: [[{ code: 121 }, { code: 11000 }], [{ code: 11000 }]] } })
    const error = await createMongoDocumentStore(client, { dbName: 'x' }).upsertEvents(payloads(chain)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DocumentRejectedError)
    expect((error as DocumentRejectedError).rejected.map((r) => r.eventId)).toEqual([chain[0]!.id, chain[1]!.id])
  })

  it('treats any other write error or failure as transient', async () => {
    const { client } = stubClient({ bulk: { [EVENTS_COLLECTION]: [[{ code: 91 }]] } })
    const error = await createMongoDocumentStore(client, { dbName: 'x' }).upsertEvents(payloads([event!])).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(DocumentRejectedError)
    const reset = new Error('connection reset')
    const second = stubClient({ bulk: { [EVENTS_COLLECTION]: [reset] } })
    await expect(createMongoDocumentStore(second.client, { dbName: 'x' }).upsertEvents(payloads([event!]))).rejects.toBe(reset)
  })
})
