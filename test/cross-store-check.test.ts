import { describe, expect, it } from 'vitest'
import { checkDocumentCopies } from '../src/audit/check-document-copies.ts'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import { fromEventDocument } from '../src/sinks/docstore/event-document.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'

const db = useTestDatabase('cross_store')

describe('cross-store check (PostgreSQL chain vs document store copies)', () => {
  it('confirms a faithful copy, then names missing and altered documents by shard and sequence', async () => {
    const tenant = await createChainTenant(db.sql, 2)
    const other = await createChainTenant(db.sql, 2)
    for (const shard of [0, 1]) await appendEvents(db.sql, tenant, shard, 4)
    await appendEvents(db.sql, other, 0, 2)
    const store = createMemoryDocumentStore()
    const relay = createOutboxRelay({ sql: db.sql, sinks: [createDocumentStoreSink(store)], listen: false })
    await relay.drainOnce()
    // Not yet delivered: counted as pending, not as missing.
    await appendEvents(db.sql, tenant, 1, 1)

    const clean = await checkDocumentCopies(db.sql, store, tenant.id)
    expect(clean).toMatchObject({ consistent: true, compared: 8, pending: 1, missing: [], extra: [], altered: [] })

    const docs = await store.listTenantEvents(tenant.id, { shard: 0 })
    const tampered = fromEventDocument(docs[1]!)
    await store.upsertEvents([{ event: { ...tampered, outcome: 'success', reason: null }, lockout: null }])
    const lost = fromEventDocument(docs[3]!)
    await store.upsertEvents([{ event: { ...lost, expires_at: '2000-01-01T00:00:00.000Z' }, lockout: null }])
    await store.removeExpired(new Date())

    const report = await checkDocumentCopies(db.sql, store, tenant.id)
    expect(report.consistent).toBe(false)
    expect(report.altered).toEqual([{ eventId: tampered.id, shard: 0, seq: 2, fields: ['outcome', 'reason'] }])
    expect(report.missing).toEqual([{ eventId: lost.id, shard: 0, seq: 4 }])
    // Another tenant's copy is not affected, and is compared only against its own chain.
    expect(await checkDocumentCopies(db.sql, store, other.id)).toMatchObject({ consistent: true, compared: 2 })
  })
})
