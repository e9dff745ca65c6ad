import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxPayload } from '../src/core/auth-event.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { createOutboxRelay, type OutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { getRelayStatus } from '../src/outbox/relay-status.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { appendTestEvent, createChainTenant } from './support/outbox-fixtures.ts'
import { createRecordingSink, receivedByChain } from './support/recording-sink.ts'
import { until } from './support/until.ts'

let db: TestDatabase
const clients: Sql[] = []
beforeAll(async () => {
  db = await createTestDatabase('relay_concurrency', { max: 12 })
})
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end({ timeout: 5 })))
  await db?.drop()
})


describe('several relay instances at once', () => {
  it('deliver every event exactly once per sink, in chain order, while logins keep appending', async () => {
    const tenants = [await createChainTenant(db.sql), await createChainTenant(db.sql)]
    const shared = { docstore: [] as OutboxPayload[], syslog: [] as OutboxPayload[] }
    const relays: OutboxRelay[] = []
    for (let i = 0; i < 3; i++) {
      // Each instance has its own connection pool, as separate processes would.
      const sql = createSql(db.url, { max: 3 })
      clients.push(sql)
      const sinks = [
        createRecordingSink('docstore', { shared: shared.docstore, delayMs: 2 }),
        createRecordingSink('syslog', { shared: shared.syslog, delayMs: 1 }),
      ]
      relays.push(createOutboxRelay({ sql, sinks, batchSize: 16, maxChainsPerClaim: 3, pollIntervalMs: 50, listen: true }))
    }
    await Promise.all(relays.map((r) => r.start()))

    const perWriter = 60
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        const tenant = tenants[w % 2]!
        await db.sql.begin((tx) => appendTestEvent(tx, tenant, (w + i) % 4))
      }
    })
    await Promise.all(writers)
    const total = 6 * perWriter

    await until(() => shared.docstore.length >= total && shared.syslog.length >= total, 20_000, 'the relays')
    // Let a straggling duplicate show up if there were one.
    await new Promise((r) => setTimeout(r, 200))
    await Promise.all(relays.map((r) => r.stop()))

    for (const received of [shared.docstore, shared.syslog]) {
      const ids = received.map((p) => p.event.id)
      expect(ids).toHaveLength(total)
      expect(new Set(ids).size).toBe(total)
      const chains = receivedByChain(received)
      expect(chains.size).toBe(8)
      for (const seqs of chains.values()) expect(seqs).toEqual(seqs.map((_, i) => i + 1))
    }
    const delivered = relays.map((r) => r.stats().sinks.docstore!.delivered)
    expect(delivered.reduce((a, b) => a + b, 0)).toBe(total)
    // The work was shared, not done by one instance while the others idled.
    expect(delivered.filter((n) => n > 0).length).toBeGreaterThan(1)

    const status = await getRelayStatus(db.sql, { sinks: ['docstore', 'syslog'] })
    expect(status.map((s) => [s.sink, s.undelivered, s.deadLetters])).toEqual([
      ['docstore', 0, 0],
      ['syslog', 0, 0],
    ])
  })
})
