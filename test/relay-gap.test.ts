import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { appendEvents, appendTestEvent, createChainTenant } from './support/outbox-fixtures.ts'
import { createRecordingSink, receivedByChain, type RecordingSink } from './support/recording-sink.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import type { Tx } from '../src/db/client.ts'
import type { Tenant } from '../src/db/tenants.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase('relay_gap')
})
afterAll(async () => {
  await db?.drop()
})

/** Opens a transaction, appends one event, and holds the transaction open until `commit()` is called. */
async function openAppend(tenant: Tenant, shard: number) {
  let release!: () => void
  let appended!: (row: { eventId: string; outboxId: number }) => void
  const held = new Promise<void>((r) => (release = r))
  const ready = new Promise<{ eventId: string; outboxId: number }>((r) => (appended = r))
  const done = db.sql.begin(async (tx: Tx) => {
    const [event] = await appendTestEvent(tx, tenant, shard)
    const [row] = await tx<{ id: number }[]>`SELECT id FROM outbox WHERE event_id = ${event!.id}`
    appended({ eventId: event!.id, outboxId: row!.id })
    await held
  })
  return { ...(await ready), commit: async () => (release(), await done) }
}

/** What a drain delivered of one tenant's events (other tests' tenants share the database). */
function tenantIds(sink: RecordingSink, tenant: Tenant): string[] {
  return sink.received.filter((p) => p.event.tenant_id === tenant.id).map((p) => p.event.id)
}

describe('the outbox gap: transactions committing out of order', () => {
  for (const layout of ['two tenants', 'two chains of one tenant'] as const) {
    it(`skips nothing when a lower outbox id commits after a higher one (${layout})`, async () => {
      const tenantX = await createChainTenant(db.sql)
      const tenantY = layout === 'two tenants' ? await createChainTenant(db.sql) : tenantX
      const [shardX, shardY] = layout === 'two tenants' ? [0, 0] : [1, 2]
      const sink = createRecordingSink('docstore')
      const relay = createOutboxRelay({ sql: db.sql, sinks: [sink], listen: false })

      await appendEvents(db.sql, tenantX, shardX, 2)
      await relay.drainOnce()
      expect(tenantIds(sink, tenantX)).toHaveLength(2)

      const a = await openAppend(tenantX, shardX) // takes the lower bigserial id ...
      const b = await openAppend(tenantY, shardY)
      await b.commit() // ... but the higher one becomes visible first
      expect(a.outboxId).toBeLessThan(b.outboxId)

      await relay.drainOnce()
      expect(tenantIds(sink, tenantY)).toContain(b.eventId)
      expect(tenantIds(sink, tenantX)).not.toContain(a.eventId)

      await a.commit()
      await relay.drainOnce()
      const ids = sink.received.map((p) => p.event.id)
      expect(ids).toContain(a.eventId)
      expect(new Set(ids).size).toBe(ids.length)
      expect(receivedByChain(sink.received).get(`${tenantX.id}/${shardX}`)).toEqual([1, 2, 3])
    })
  }

  it('delivers a chain in sequence order while later appends wait on the chain head', async () => {
    const tenant = await createChainTenant(db.sql)
    const sink = createRecordingSink('syslog')
    const relay = createOutboxRelay({ sql: db.sql, sinks: [sink], listen: false })
    const a = await openAppend(tenant, 3)
    // The second append blocks on the head's row lock until the first commits: it can only commit after it.
    const second = db.sql.begin((tx) => appendTestEvent(tx, tenant, 3))
    await new Promise((r) => setTimeout(r, 50))
    await relay.drainOnce()
    expect(tenantIds(sink, tenant)).toEqual([])
    await a.commit()
    await second
    await relay.drainOnce()
    expect(tenantIds(sink, tenant)).toHaveLength(2)
    expect(receivedByChain(sink.received).get(`${tenant.id}/3`)).toEqual([1, 2])
  })
})

describe('compaction', () => {
  it('removes only the rows every sink has passed', async () => {
    const tenant = await createChainTenant(db.sql)
    await appendEvents(db.sql, tenant, 0, 4)
    await appendEvents(db.sql, tenant, 1, 3)
    const docstore = createRecordingSink('docstore')
    const syslog = createRecordingSink('syslog')
    const relay = createOutboxRelay({ sql: db.sql, sinks: [docstore, syslog], listen: false, batchSize: 100 })

    // syslog refuses chain 0 from its third event on: its cursor stays at 2 there.
    syslog.failWith = (p) => (p.event.shard === 0 && p.event.seq >= 3 ? new Error('refused') : null)
    await relay.drainOnce()
    const remaining = await db.sql<{ shard: number; seq: number }[]>`
      SELECT shard, seq FROM outbox WHERE tenant_id = ${tenant.id} ORDER BY shard, seq`
    expect(remaining).toEqual([
      { shard: 0, seq: 3 },
      { shard: 0, seq: 4 },
    ])
    expect(relay.stats().compactedRows).toBeGreaterThanOrEqual(5)
  })

  it('keeps rows a configured sink has no cursor for yet', async () => {
    const tenant = await createChainTenant(db.sql)
    await appendEvents(db.sql, tenant, 2, 2)
    const docstore = createRecordingSink('docstore')
    await createOutboxRelay({ sql: db.sql, sinks: [docstore], listen: false }).drainOnce()
    // A relay that also serves syslog must not compact what syslog never saw.
    const { compactOutbox } = await import('../src/outbox/compact-outbox.ts')
    await compactOutbox(db.sql, ['docstore', 'syslog'])
    const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE tenant_id = ${tenant.id}`
    expect(row!.n).toBe(2)
  })
})
