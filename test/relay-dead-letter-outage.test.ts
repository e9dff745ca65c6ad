import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { getRelayStatus } from '../src/outbox/relay-status.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'
import { createRecordingSink } from './support/recording-sink.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase('relay_dead_letter_outage')
})
afterAll(async () => {
  await db?.drop()
})

/** The relay's clock, advanced by the tests instead of sleeping through back-offs. */
function manualClock() {
  let t = Date.now()
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) }
}

const deadLetters = (tenantId: string) => db.sql<{ event_id: string }[]>`SELECT event_id FROM outbox_dead_letters WHERE tenant_id = ${tenantId} ORDER BY seq`

describe('the dead-letter rule across an outage of the whole sink', () => {
  it('after a poison event was dead-lettered as the last of its chain, a later outage of the whole sink dead-letters nothing', async () => {
    const tenant = await createChainTenant(db.sql, 2)
    const clock = manualClock()
    const docstore = createRecordingSink('docstore')
    const logs: Record<string, unknown>[] = []
    const relay = createOutboxRelay({ sql: db.sql, sinks: [docstore], listen: false, maxAttempts: 2, backoff: { baseMs: 10, maxMs: 20 }, now: clock.now, log: (e) => logs.push(e) })

    // 1. A poison event, the last of chain 0, while the sink works (chain 1 keeps delivering): dead-lettered.
    const [poison] = await appendEvents(db.sql, tenant, 0, 1)
    docstore.failWith = (p) => (p.event.id === poison ? new Error('document too large') : null)
    for (let i = 0; i < 20 && (await deadLetters(tenant.id)).length === 0; i++) {
      await appendEvents(db.sql, tenant, 1, 1)
      await relay.drainOnce()
      clock.advance(25)
    }
    expect((await deadLetters(tenant.id)).map((d) => d.event_id)).toEqual([poison])

    // 2. The sink keeps working a while after that: the relay's last success is later than anything before.
    clock.advance(1_000)
    await appendEvents(db.sql, tenant, 1, 1)
    await relay.drainOnce()
    docstore.failWith = null

    // 3. The whole sink goes down; chain 0 gets a new event and is retried far beyond maxAttempts.
    clock.advance(1_000)
    docstore.failWith = () => new Error('connect ECONNREFUSED 127.0.0.1:27017')
    const [healthy] = await appendEvents(db.sql, tenant, 0, 1)
    let attemptsSeen = 0
    for (let i = 0; i < 30; i++) {
      await relay.drainOnce()
      clock.advance(25)
      const [cursor] = await db.sql<{ attempts: number }[]>`SELECT attempts FROM outbox_cursors WHERE sink = 'docstore' AND tenant_id = ${tenant.id} AND shard = 0`
      attemptsSeen = Math.max(attemptsSeen, cursor!.attempts)
    }
    expect(attemptsSeen).toBeGreaterThan(2)
    expect((await deadLetters(tenant.id)).map((d) => d.event_id)).toEqual([poison])

    // The outage is visible: the status names the error, and the log has one warn line per backoff step.
    const [status] = await getRelayStatus(db.sql, { tenantId: tenant.id, sinks: ['docstore'] })
    expect(status).toMatchObject({ retryingChains: 1, lastError: 'Error: connect ECONNREFUSED 127.0.0.1:27017' })
    expect(status!.lastErrorAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    const warned = logs.filter((l) => l.msg === 'outbox sink failed' && l.error === 'Error: connect ECONNREFUSED 127.0.0.1:27017')
    expect(warned.length).toBeGreaterThan(0)
    expect(warned.every((l) => l.level === 'warn' && l.sink === 'docstore')).toBe(true)
    const steps = warned.map((l) => l.attempts as number)
    expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b))
    expect(steps.at(-1)).toBe(attemptsSeen)

    // 4. The sink comes back: the event held through the outage is delivered, and the error is gone.
    docstore.failWith = null
    clock.advance(100)
    await relay.drainOnce()
    expect(docstore.received.map((p) => p.event.id)).toContain(healthy)
    const [after] = await getRelayStatus(db.sql, { tenantId: tenant.id, sinks: ['docstore'] })
    expect(after).toMatchObject({ undelivered: 0, retryingChains: 0, lastError: null, lastErrorAt: null })
  })

  it('a sink failing claim after claim writes one warn line per backoff step, not one per claim', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    const clock = manualClock()
    const syslog = createRecordingSink('syslog')
    const logs: Record<string, unknown>[] = []
    const relay = createOutboxRelay({ sql: db.sql, sinks: [syslog], listen: false, maxAttempts: 3, backoff: { baseMs: 100, maxMs: 100 }, now: clock.now, log: (e) => logs.push(e) })
    syslog.failWith = () => new Error("ENOENT: no such file or directory, open '/var/log/missing/cef.log'")
    await appendEvents(db.sql, tenant, 0, 3)
    // Polls every 10 ms of the relay's clock through a 100 ms backoff: about ten claims per step.
    for (let i = 0; i < 50; i++) {
      await relay.drainOnce()
      clock.advance(10)
    }
    const [cursor] = await db.sql<{ attempts: number }[]>`SELECT attempts FROM outbox_cursors WHERE sink = 'syslog' AND tenant_id = ${tenant.id}`
    const warned = logs.filter((l) => l.msg === 'outbox sink failed')
    expect(cursor!.attempts).toBeGreaterThanOrEqual(3)
    expect(warned.map((l) => l.attempts)).toEqual(Array.from({ length: cursor!.attempts }, (_, i) => i + 1))
    expect(warned[0]).toMatchObject({ level: 'warn', sink: 'syslog', error: "Error: ENOENT: no such file or directory, open '/var/log/missing/cef.log'" })
    expect(relay.stats().sinks.syslog!.lastError).toBe("Error: ENOENT: no such file or directory, open '/var/log/missing/cef.log'")
    expect(await deadLetters(tenant.id)).toEqual([])
  })
})
