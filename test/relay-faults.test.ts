import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxPayload } from '../src/core/auth-event.ts'
import { createOutboxRelay, type OutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { getRelayStatus } from '../src/outbox/relay-status.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import type { DocumentStore } from '../src/sinks/docstore/document-store.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'
import type { EventSink } from '../src/sinks/event-sink.ts'
import { createSyslogSink } from '../src/sinks/syslog/index.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { startRsyslog, type RsyslogReceiver } from './support/rsyslog.ts'
import { createTestApp, postJson, seedTenant, type SeededTenant, type TestApp } from './support/test-app.ts'
import { until } from './support/until.ts'

let db: TestDatabase
let rx: RsyslogReceiver
let t: TestApp
let acme: SeededTenant
let relay: OutboxRelay | null = null
const sinks: EventSink[] = []

beforeAll(async () => {
  ;[db, rx] = await Promise.all([createTestDatabase('relay_faults'), startRsyslog()])
  t = await createTestApp(db.sql)
  acme = await seedTenant(db.sql, { slug: 'acme', users: ['ann', 'ben', 'cid', 'dee'].map((n) => ({ identifier: `${n}@acme.test` })) })
})
afterAll(async () => {
  await relay?.stop()
  await Promise.allSettled(sinks.map((s) => s.close()))
  await rx?.dispose()
  await db?.drop()
})

/** The in-memory document store, made to fail on demand, counting every write it is asked to make. */
function createFlakyStore(store: DocumentStore) {
  const state = { down: false, writes: new Map<string, number>() }
  const flaky: DocumentStore = {
    ...store,
    async upsertEvents(batch: readonly OutboxPayload[]) {
      if (state.down) throw new Error('MongoServerSelectionError: connection refused')
      for (const { event } of batch) state.writes.set(event.id, (state.writes.get(event.id) ?? 0) + 1)
      await store.upsertEvents(batch)
    },
  }
  return { flaky, state }
}


const allDelivered = async () => (await getRelayStatus(db.sql, { sinks: ['docstore', 'syslog'] })).every((s) => s.undelivered === 0)

async function login(i: number): Promise<number> {
  const user = ['ann', 'ben', 'cid', 'dee'][i % 4]!
  const res = await postJson(t.app, '/v1/auth/login', {
    tenant: 'acme',
    identifier: `${user}@acme.test`,
    password: i % 3 === 0 ? 'not-the-password' : acme.users[`${user}@acme.test`]!.password,
  })
  return res.status
}

describe('document store failing and syslog receiver stopped while logins continue', () => {
  it('keeps logins succeeding and, after recovery, every event reaches both sinks: none lost, none duplicated in the store', async () => {
    const memory = createMemoryDocumentStore()
    const { flaky, state } = createFlakyStore(memory)
    sinks.push(createDocumentStoreSink(flaky), createSyslogSink({ url: rx.tcpUrl, connectTimeoutMs: 500, firstWriteSettleMs: 50 }))
    relay = createOutboxRelay({ sql: db.sql, sinks, pollIntervalMs: 100, maxAttempts: 1_000, backoff: { baseMs: 50, maxMs: 400 }, listen: true })
    await relay.start()

    for (let i = 0; i < 8; i++) expect([200, 401]).toContain(await login(i))
    await until(allDelivered, 10_000, 'the healthy sinks')

    // Both sinks go down; logins carry on and the outbox grows.
    const eventCount = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`)[0]!.n
    const before = await eventCount()
    state.down = true
    await rx.stop()
    for (let i = 8; i < 40; i++) expect([200, 401]).toContain(await login(i))
    await new Promise((r) => setTimeout(r, 300))
    const during = await getRelayStatus(db.sql, { sinks: ['docstore', 'syslog'] })
    const written = (await eventCount()) - before
    expect(written).toBeGreaterThanOrEqual(32)
    expect(during.map((s) => s.undelivered)).toEqual([written, written])
    expect(during.every((s) => s.retryingChains > 0)).toBe(true)

    state.down = false
    await rx.restart()
    await until(allDelivered, 20_000, 'both sinks to catch up')

    const pg = await db.sql<{ id: string; shard: number; seq: number }[]>`
      SELECT id, shard, seq FROM auth_logs WHERE tenant_id = ${acme.tenant.id} ORDER BY shard, seq`
    expect(pg.length).toBeGreaterThanOrEqual(40)

    // The document store: every event exactly once, in agreement with PostgreSQL; redelivered writes absorbed.
    const docs = await memory.listTenantEvents(acme.tenant.id)
    expect(docs.map((d) => d._id)).toEqual(pg.map((e) => e.id))
    expect(pg.every((e) => (state.writes.get(e.id) ?? 0) >= 1)).toBe(true)

    // The SIEM: every event at least once (CEF externalId), each chain in order of first arrival.
    const lines = rx.readLines()
    const firstSeen = new Map<string, number>()
    lines.forEach((line, index) => {
      const id = /externalId=([0-9a-f-]{36})/.exec(line)?.[1]
      if (id !== undefined && !firstSeen.has(id)) firstSeen.set(id, index)
    })
    expect(pg.filter((e) => !firstSeen.has(e.id))).toEqual([])
    for (const shard of new Set(pg.map((e) => e.shard))) {
      const positions = pg.filter((e) => e.shard === shard).map((e) => firstSeen.get(e.id)!)
      expect(positions).toEqual([...positions].sort((a, b) => a - b))
    }
    expect(await db.sql`SELECT 1 FROM outbox_dead_letters`).toHaveLength(0)
  })
})
