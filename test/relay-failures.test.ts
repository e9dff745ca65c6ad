import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { redriveDeadLetters } from '../src/admin/redrive-dead-letters.ts'
import { getRelayStatus } from '../src/outbox/relay-status.ts'
import { PermanentSinkError } from '../src/sinks/event-sink.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'
import { createRecordingSink, receivedByChain } from './support/recording-sink.ts'
import type { Tenant } from '../src/db/tenants.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase('relay_failures')
})
afterAll(async () => {
  await db?.drop()
})

/** The relay's clock, advanced by the tests instead of sleeping through back-offs. */
function manualClock() {
  let t = Date.now()
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) }
}

interface CursorState {
  shard: number
  delivered_seq: number
  attempts: number
  retry_in_ms: number
  last_error: string | null
}

function cursors(sink: string, tenant: Tenant) {
  return db.sql<CursorState[]>`
    SELECT shard, delivered_seq, attempts, last_error,
      CASE WHEN isfinite(next_attempt_at) THEN extract(epoch FROM next_attempt_at - updated_at) * 1000 ELSE 0 END::float8 AS retry_in_ms
    FROM outbox_cursors WHERE sink = ${sink} AND tenant_id = ${tenant.id} ORDER BY shard`
}

describe('one sink failing while the other works', () => {
  it('keeps the healthy sink current, backs the failing one off, and catches it up in order', async () => {
    const tenant = await createChainTenant(db.sql)
    const docstore = createRecordingSink('docstore')
    const syslog = createRecordingSink('syslog')
    const clock = manualClock()
    const relay = createOutboxRelay({ sql: db.sql, sinks: [docstore, syslog], listen: false, maxAttempts: 100, backoff: { baseMs: 40, maxMs: 400 }, now: clock.now })
    docstore.failWith = () => new Error('document store unavailable')

    for (const shard of [0, 1, 2]) await appendEvents(db.sql, tenant, shard, 4)
    await relay.drainOnce()
    expect(syslog.received).toHaveLength(12)
    expect(docstore.received).toHaveLength(0)

    // The outage goes on for 1.5 s of the relay's clock and logins continue; the relay polls every 30 ms.
    const seen: { attempts: number; retryInMs: number }[] = []
    for (let polled = 0; polled < 50; polled++) {
      if (polled < 6) await appendEvents(db.sql, tenant, polled % 3, 1)
      await relay.drainOnce()
      for (const c of await cursors('docstore', tenant)) if (c.attempts > 0) seen.push({ attempts: c.attempts, retryInMs: c.retry_in_ms })
      clock.advance(30)
    }
    expect(syslog.received).toHaveLength(18)
    const docstoreState = await cursors('docstore', tenant)
    expect(docstoreState.every((c) => c.delivered_seq === 0)).toBe(true)
    expect(docstoreState.some((c) => c.attempts >= 3)).toBe(true)
    expect(docstoreState.find((c) => c.attempts > 0)!.last_error).toBe('Error: document store unavailable')
    // Exponential: each attempt's delay lies in the upper half of base·2^(n-1), capped.
    for (const { attempts, retryInMs } of seen) {
      const ceiling = Math.min(400, 40 * 2 ** (attempts - 1))
      expect(retryInMs).toBeGreaterThanOrEqual(ceiling / 2 - 5)
      expect(retryInMs).toBeLessThanOrEqual(ceiling + 5)
    }
    // A down sink is probed, not hammered: a few calls per poll, not one per chain and event.
    expect(docstore.calls).toBeLessThan(4 * (seen.length + 60))
    const [status] = await getRelayStatus(db.sql, { tenantId: tenant.id, sinks: ['docstore'], now: clock.now() })
    expect(status!.undelivered).toBe(18)
    expect(status!.lagSeconds).toBeGreaterThan(1)

    docstore.failWith = null
    clock.advance(400) // the longest backoff
    await relay.drainOnce()
    expect(docstore.received).toHaveLength(18)
    expect(new Set(docstore.received.map((p) => p.event.id)).size).toBe(18)
    for (const seqs of receivedByChain(docstore.received).values()) expect(seqs).toEqual(seqs.map((_, i) => i + 1))
    expect((await cursors('docstore', tenant)).map((c) => [c.delivered_seq, c.attempts, c.last_error])).toEqual([
      [6, 0, null],
      [6, 0, null],
      [6, 0, null],
    ])
    const [after] = await getRelayStatus(db.sql, { tenantId: tenant.id, sinks: ['docstore'] })
    expect(after).toMatchObject({ undelivered: 0, lagSeconds: 0, deadLetters: 0, retryingChains: 0 })
    expect(relay.stats().sinks.docstore).toMatchObject({ delivered: 18, deadLettered: 0 })
    expect(relay.stats().sinks.docstore!.failures).toBeGreaterThan(3)
  })
})

describe('an outage of the whole sink', () => {
  it('backs off for as long as it lasts and dead-letters nothing, then delivers everything in order', async () => {
    const tenant = await createChainTenant(db.sql)
    for (const shard of [0, 1]) await appendEvents(db.sql, tenant, shard, 3)
    const docstore = createRecordingSink('docstore')
    const syslog = createRecordingSink('syslog')
    docstore.failWith = () => new Error('connection refused')
    const clock = manualClock()
    const relay = createOutboxRelay({ sql: db.sql, sinks: [docstore, syslog], listen: false, maxAttempts: 2, backoff: { baseMs: 10, maxMs: 20 }, now: clock.now })
    let maxAttemptsSeen = 0
    for (let i = 0; i < 30; i++) {
      await relay.drainOnce()
      clock.advance(25)
      maxAttemptsSeen = Math.max(maxAttemptsSeen, ...(await cursors('docstore', tenant)).map((c) => c.attempts))
    }
    // Far more failed attempts than maxAttempts, and still no dead letter: the sink was never seen working.
    expect(maxAttemptsSeen).toBeGreaterThan(2)
    expect(await db.sql`SELECT event_id FROM outbox_dead_letters WHERE tenant_id = ${tenant.id}`).toEqual([])
    expect(docstore.received).toEqual([])
    // The other sink's success is no evidence against this one: its cursor is its own.
    expect(syslog.received).toHaveLength(6)

    docstore.failWith = null
    for (let i = 0; i < 10 && docstore.received.length < 6; i++) {
      clock.advance(25)
      await relay.drainOnce()
    }
    expect(receivedByChain(docstore.received).get(`${tenant.id}/0`)).toEqual([1, 2, 3])
    expect(receivedByChain(docstore.received).get(`${tenant.id}/1`)).toEqual([1, 2, 3])
  })
})

describe('poison events', () => {
  it('are dead-lettered without holding back the events behind them, and can be re-driven', async () => {
    const tenant = await createChainTenant(db.sql)
    const other = await createChainTenant(db.sql)
    const chain0 = await appendEvents(db.sql, tenant, 0, 5)
    const chain1 = await appendEvents(db.sql, tenant, 1, 3)
    await appendEvents(db.sql, other, 0, 3)
    const poison = chain0[2]! // seq 3: refused every time, with an ordinary error
    const rejected = chain1[1]! // seq 2: refused as permanently invalid

    const docstore = createRecordingSink('docstore')
    const syslog = createRecordingSink('syslog')
    const clock = manualClock()
    // Each event offered to the document store takes a millisecond of the relay's clock, so its successes
    // come after the poison's first failure, as they would on a real clock.
    docstore.failWith = (p) => {
      clock.advance(1)
      return p.event.id === poison ? new Error('cannot store this one') : p.event.id === rejected ? new PermanentSinkError('invalid document', rejected) : null
    }
    const relay = createOutboxRelay({ sql: db.sql, sinks: [docstore, syslog], listen: false, maxAttempts: 3, backoff: { baseMs: 20, maxMs: 40 }, now: clock.now })

    await relay.drainOnce()
    // The permanent refusal is dead-lettered at once; the other poison is retried.
    let dead = await db.sql<{ event_id: string; attempts: number; last_error: string; seq: number }[]>`
      SELECT event_id, attempts, last_error, seq FROM outbox_dead_letters WHERE sink = 'docstore' AND tenant_id = ${tenant.id}`
    expect(dead).toEqual([{ event_id: rejected, attempts: 1, last_error: 'PermanentSinkError: invalid document', seq: 2 }])
    expect(receivedByChain(docstore.received).get(`${tenant.id}/1`)).toEqual([1, 3])
    expect(receivedByChain(docstore.received).get(`${other.id}/0`)).toEqual([1, 2, 3])
    expect(receivedByChain(docstore.received).get(`${tenant.id}/0`)).toEqual([1, 2])

    for (let i = 0; i < 40 && dead.length < 2; i++) {
      clock.advance(25)
      await relay.drainOnce()
      dead = await db.sql`SELECT event_id, attempts, last_error, seq FROM outbox_dead_letters WHERE sink = 'docstore' AND tenant_id = ${tenant.id} ORDER BY seq DESC`
    }
    expect(dead[0]).toEqual({ event_id: poison, attempts: 3, last_error: 'Error: cannot store this one', seq: 3 })
    expect(receivedByChain(docstore.received).get(`${tenant.id}/0`)).toEqual([1, 2, 4, 5])
    expect(syslog.received).toHaveLength(11)
    const [status] = await getRelayStatus(db.sql, { tenantId: tenant.id, sinks: ['docstore'] })
    expect(status).toMatchObject({ undelivered: 0, deadLetters: 2 })
    const [otherStatus] = await getRelayStatus(db.sql, { tenantId: other.id, sinks: ['docstore'] })
    expect(otherStatus!.deadLetters).toBe(0)

    // The sink is fixed; an operator re-drives.
    docstore.failWith = null
    const before = docstore.received.length
    const result = await redriveDeadLetters(db.sql, 'docstore', docstore, { tenantId: tenant.id }, { actor: { channel: 'system' } })
    expect(result.redriven.sort()).toEqual([poison, rejected].sort())
    expect(result.failed).toEqual([])
    expect(docstore.received.slice(before).map((p) => p.event.id).sort()).toEqual([poison, rejected].sort())
    const redriven = await db.sql`SELECT event_id FROM outbox_dead_letters WHERE tenant_id = ${tenant.id} AND redriven_at IS NOT NULL`
    expect(redriven).toHaveLength(2)

    // Each chain touched records the re-drive, in the same transaction, through the outbox as always.
    const audit = await db.sql<{ shard: number; seq: number; channel: string; outcome: string; metadata: Record<string, unknown> }[]>`
      SELECT shard, seq, channel, outcome, metadata FROM auth_logs
      WHERE tenant_id = ${tenant.id} AND event_type = 'dead_letters_redriven' ORDER BY shard`
    expect(audit).toEqual([
      { shard: 0, seq: 6, channel: 'system', outcome: 'success', metadata: { sink: 'docstore', redriven_count: 1, failed_count: 0, redriven_event_ids: [poison], failed_event_ids: [] } },
      { shard: 1, seq: 4, channel: 'system', outcome: 'success', metadata: { sink: 'docstore', redriven_count: 1, failed_count: 0, redriven_event_ids: [rejected], failed_event_ids: [] } },
    ])
    expect((await verifyTenantChain(db.sql, tenant.id, nodeDigester)).ok).toBe(true)
    await relay.drainOnce()
    expect(docstore.received.filter((p) => p.event.event_type === 'dead_letters_redriven')).toHaveLength(2)
    expect(syslog.received.filter((p) => p.event.event_type === 'dead_letters_redriven')).toHaveLength(2)

    // Nothing left to re-drive.
    expect((await redriveDeadLetters(db.sql, 'docstore', docstore, { tenantId: tenant.id })).redriven).toEqual([])
  })

  it('leaves dead letters that still fail in place, with the new error, and audits the failure', async () => {
    const tenant = await createChainTenant(db.sql)
    const [id] = await appendEvents(db.sql, tenant, 2, 1)
    const syslog = createRecordingSink('syslog')
    syslog.failWith = () => new PermanentSinkError('unformattable', id!)
    const relay = createOutboxRelay({ sql: db.sql, sinks: [syslog], listen: false })
    await relay.drainOnce()
    syslog.failWith = () => new Error('still broken')
    const result = await redriveDeadLetters(db.sql, 'syslog', syslog, { eventIds: [id!] }, { actor: { channel: 'admin', actorId: tenant.id } })
    expect(result.redriven).toEqual([])
    expect(result.failed).toEqual([{ eventId: id, error: 'Error: still broken' }])
    const [row] = await db.sql`SELECT attempts, last_error, redriven_at FROM outbox_dead_letters WHERE event_id = ${id!}`
    expect(row).toEqual({ attempts: 2, last_error: 'Error: still broken', redriven_at: null })
    const [audit] = await db.sql`SELECT outcome, reason, channel FROM auth_logs WHERE tenant_id = ${tenant.id} AND event_type = 'dead_letters_redriven'`
    expect(audit).toEqual({ outcome: 'failure', reason: 'sink_still_failing', channel: 'admin' })
  })
})
