import { describe, expect, it } from 'vitest'
import type { Tenant } from '../src/db/tenants.ts'
import { claimOutboxBatch } from '../src/outbox/claim-outbox-batch.ts'
import { deliverClaimedChains, type DeliveryPolicy } from '../src/outbox/deliver-claimed-chains.ts'
import { discoverChains } from '../src/outbox/discover-chains.ts'
import { PermanentSinkError } from '../src/sinks/event-sink.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'
import { createRecordingSink, type RecordingSink } from './support/recording-sink.ts'

// The delivery rules of one claim, driven directly: which calls reach the sink, who is charged for a failure,
// and when a failing event becomes a dead letter. Each test uses its own tenant and sink name.

const db = useTestDatabase('deliver_claimed_chains')
const policy: DeliveryPolicy = { maxAttempts: 3, backoff: { baseMs: 1_000, maxMs: 60_000 }, deliveryTimeoutMs: 30_000 }
const T0 = new Date('2030-01-01T00:00:00.000Z')
let sinkCounter = 0

interface Cursor {
  shard: number
  delivered_seq: number
  attempts: number
  failing_since: Date | null
}

async function setUp(chainLengths: number[]): Promise<{ tenant: Tenant; sink: RecordingSink }> {
  const tenant = await createChainTenant(db.sql, chainLengths.length)
  for (const [shard, count] of chainLengths.entries()) if (count > 0) await appendEvents(db.sql, tenant, shard, count)
  // Sink names are a closed set; the cursors are per tenant, so tests stay apart by tenant.
  const sink = createRecordingSink(++sinkCounter % 2 ? 'syslog' : 'docstore')
  await discoverChains(db.sql, sink.name)
  return { tenant, sink }
}

/** One claim of the tenant's chains for the sink, delivered; returns the report. */
async function claimAndDeliver(tenant: Tenant, sink: RecordingSink, now: Date, sinkLastSuccessAt: Date | null = null) {
  return db.sql.begin(async (tx) => {
    const chains = (await claimOutboxBatch(tx, sink.name, { maxChains: 100, batchSize: 1_000, now })).filter((c) => c.tenantId === tenant.id)
    return deliverClaimedChains(tx, sink, chains, policy, { now, sinkLastSuccessAt })
  })
}

function cursors(tenant: Tenant, sink: RecordingSink) {
  return db.sql<Cursor[]>`
    SELECT shard, delivered_seq::int AS delivered_seq, attempts, failing_since
    FROM outbox_cursors WHERE sink = ${sink.name} AND tenant_id = ${tenant.id} ORDER BY shard`
}

function deadLetters(tenant: Tenant, sink: RecordingSink) {
  return db.sql<{ shard: number; seq: number; attempts: number }[]>`
    SELECT shard, seq::int AS seq, attempts FROM outbox_dead_letters WHERE sink = ${sink.name} AND tenant_id = ${tenant.id} ORDER BY shard, seq`
}

/** Records the size of every batch the sink is asked to take. */
function recordBatchSizes(sink: RecordingSink): number[] {
  const sizes: number[] = []
  const deliver = sink.deliver.bind(sink)
  sink.deliver = (batch) => {
    sizes.push(batch.length)
    return deliver(batch)
  }
  return sizes
}

const ofTenant = (tenant: Tenant) => (p: { event: { tenant_id: string } }) => p.event.tenant_id === tenant.id

describe('deliverClaimedChains', () => {
  it('sends all healthy chains in one call and moves every cursor to its last event', async () => {
    const { tenant, sink } = await setUp([3, 2, 4])
    const report = await claimAndDeliver(tenant, sink, T0)
    expect(report).toEqual({ delivered: 9, batches: 1, failures: 0, deadLettered: [], backedOff: 0, lastFailure: null })
    expect(sink.calls).toBe(1)
    expect((await cursors(tenant, sink)).map((c) => [c.delivered_seq, c.attempts])).toEqual([
      [3, 0],
      [2, 0],
      [4, 0],
    ])
  })

  it('when nothing gets through, charges only the first chain, probing with its head event alone', async () => {
    const { tenant, sink } = await setUp([3, 2, 4])
    const sizes = recordBatchSizes(sink)
    sink.failWith = () => new Error('sink down')
    const report = await claimAndDeliver(tenant, sink, T0)
    // One batch of everything, then one probe of one event: not a call per chain, not a call per event.
    expect(sizes).toEqual([9, 1])
    expect(report).toMatchObject({ delivered: 0, batches: 2, failures: 2, backedOff: 1, deadLettered: [] })
    const state = await cursors(tenant, sink)
    expect(state.every((c) => c.delivered_seq === 0)).toBe(true)
    const charged = state.filter((c) => c.attempts > 0)
    expect(charged).toHaveLength(1)
    expect(charged[0]).toMatchObject({ attempts: 1, failing_since: T0 })
    expect(state.filter((c) => c.attempts === 0 && c.failing_since === null)).toHaveLength(2)
  })

  it('isolates a poison event by halving: the events before it are delivered, only its chain backs off', async () => {
    const { tenant, sink } = await setUp([8, 2])
    const sizes = recordBatchSizes(sink)
    sink.failWith = (p) => (p.event.shard === 0 && p.event.seq === 6 ? new Error('cannot store this one') : null)
    const report = await claimAndDeliver(tenant, sink, T0)
    // The batch of 10 fails; then each chain alone, halving on failure: O(log n) calls for the poison event
    // (at most 2·log2(8) + 2 for chain 0), one for the healthy chain, never one per event.
    expect(sizes[0]).toBe(10)
    expect(sizes.length).toBeLessThanOrEqual(1 + 2 * Math.log2(8) + 2 + 1)
    expect(report).toMatchObject({ delivered: 7, backedOff: 1, deadLettered: [] })
    expect((await cursors(tenant, sink)).map((c) => [c.delivered_seq, c.attempts])).toEqual([
      [5, 1],
      [2, 0],
    ])
    // Each event before the poison one exactly once, in chain order.
    const received = sink.received.filter(ofTenant(tenant))
    expect(received.filter((p) => p.event.shard === 0).map((p) => p.event.seq)).toEqual([1, 2, 3, 4, 5])
    expect(received.filter((p) => p.event.shard === 1).map((p) => p.event.seq)).toEqual([1, 2])
  })

  it('probes a chain that is already retrying with its head alone, then sends the rest whole', async () => {
    const { tenant, sink } = await setUp([4])
    sink.failWith = () => new Error('transient')
    await claimAndDeliver(tenant, sink, T0)
    expect((await cursors(tenant, sink))[0]).toMatchObject({ delivered_seq: 0, attempts: 1 })
    sink.failWith = null
    const sizes = recordBatchSizes(sink)
    const report = await claimAndDeliver(tenant, sink, new Date(T0.getTime() + 3_600_000))
    expect(sizes).toEqual([1, 3])
    expect(report).toMatchObject({ delivered: 4, failures: 0, backedOff: 0 })
    expect((await cursors(tenant, sink))[0]).toMatchObject({ delivered_seq: 4, attempts: 0, failing_since: null })
  })

  it('probes a chain that is already retrying with its head alone even after other chains got through in the claim', async () => {
    // Chain 0 fails alone first. Chain 1 gets its events only afterwards: claimed together with chain 0 while
    // both were fresh, it would come before or after chain 0 at random (their claim order is a tie), and
    // delivered in the first claim half the time.
    const { tenant, sink } = await setUp([4, 0])
    sink.failWith = (p) => (p.event.shard === 0 ? new Error('transient') : null)
    await claimAndDeliver(tenant, sink, T0)
    await appendEvents(db.sql, tenant, 1, 2)
    await discoverChains(db.sql, sink.name)
    expect((await cursors(tenant, sink)).map((c) => [c.delivered_seq, c.attempts])).toEqual([
      [0, 1],
      [0, 0],
    ])
    sink.failWith = null
    const sizes = recordBatchSizes(sink)
    const report = await claimAndDeliver(tenant, sink, new Date(T0.getTime() + 3_600_000))
    // The healthy chain goes first, whole; the retrying one is probed with its head before the rest follow.
    expect(sizes).toEqual([2, 1, 3])
    expect(report).toMatchObject({ delivered: 6, failures: 0, backedOff: 0 })
  })

  it('names the failure when the sink rejects a batch without a reason', async () => {
    const { tenant, sink } = await setUp([1])
    sink.deliver = () => Promise.reject(undefined)
    const report = await claimAndDeliver(tenant, sink, T0)
    expect(report.lastFailure).toMatchObject({ error: 'Error: sink rejected the batch without a reason', attempts: 1 })
    const [cursor] = await db.sql<{ last_error: string }[]>`SELECT last_error FROM outbox_cursors WHERE sink = ${sink.name} AND tenant_id = ${tenant.id}`
    expect(cursor!.last_error).toBe('Error: sink rejected the batch without a reason')
  })

  it('dead-letters a permanently refused event at once and continues behind it in order', async () => {
    const { tenant, sink } = await setUp([3])
    sink.failWith = (p) => (p.event.seq === 2 ? new PermanentSinkError('refused', p.event.id) : null)
    const report = await claimAndDeliver(tenant, sink, T0)
    expect(report.deadLettered).toHaveLength(1)
    expect(report.deadLettered[0]!.error).toBe('PermanentSinkError: refused')
    expect(await deadLetters(tenant, sink)).toEqual([{ shard: 0, seq: 2, attempts: 1 }])
    expect((await cursors(tenant, sink))[0]).toMatchObject({ delivered_seq: 3, attempts: 0 })
    expect(sink.received.filter(ofTenant(tenant)).map((p) => p.event.seq)).toEqual([1, 3])
  })

  describe('an event failing its last attempt', () => {
    /** Chain 0's head fails `maxAttempts - 1` times first, from T0 on; the sink is down for all of it. */
    async function atLastAttempt() {
      const { tenant, sink } = await setUp([2])
      sink.failWith = () => new Error('sink down')
      for (let i = 0; i < policy.maxAttempts - 1; i++) await claimAndDeliver(tenant, sink, new Date(T0.getTime() + i * 3_600_000))
      const [cursor] = await cursors(tenant, sink)
      expect(cursor).toMatchObject({ attempts: policy.maxAttempts - 1, failing_since: T0 })
      return { tenant, sink, last: new Date(T0.getTime() + policy.maxAttempts * 3_600_000) }
    }

    it('only backs off while the sink has not been seen working since the event first failed (an outage)', async () => {
      for (const lastSuccess of [null, new Date(T0.getTime() - 1), T0]) {
        const { tenant, sink, last } = await atLastAttempt()
        const report = await claimAndDeliver(tenant, sink, last, lastSuccess)
        expect(report, String(lastSuccess)).toMatchObject({ deadLettered: [], backedOff: 1 })
        expect((await cursors(tenant, sink))[0]).toMatchObject({ delivered_seq: 0, attempts: policy.maxAttempts })
        expect(await deadLetters(tenant, sink)).toEqual([])
      }
    })

    it('is not dead-lettered at its first failure, even with one attempt allowed, for a success of the sink before it', async () => {
      // The sink was seen working a minute before; the event has never failed before now: no evidence yet.
      const { tenant, sink } = await setUp([2])
      sink.failWith = () => new Error('sink down')
      const report = await db.sql.begin(async (tx) => {
        const chains = (await claimOutboxBatch(tx, sink.name, { maxChains: 100, batchSize: 1_000, now: T0 })).filter((c) => c.tenantId === tenant.id)
        return deliverClaimedChains(tx, sink, chains, { ...policy, maxAttempts: 1 }, { now: T0, sinkLastSuccessAt: new Date(T0.getTime() - 60_000) })
      })
      expect(report).toMatchObject({ deadLettered: [], backedOff: 1 })
      expect(await deadLetters(tenant, sink)).toEqual([])
      expect((await cursors(tenant, sink))[0]).toMatchObject({ delivered_seq: 0, attempts: 1, failing_since: T0 })
    })

    it('is dead-lettered when the sink accepted other events after it first failed', async () => {
      const { tenant, sink, last } = await atLastAttempt()
      const report = await claimAndDeliver(tenant, sink, last, new Date(T0.getTime() + 1))
      expect(report.deadLettered).toHaveLength(1)
      expect(await deadLetters(tenant, sink)).toEqual([{ shard: 0, seq: 1, attempts: policy.maxAttempts }])
      expect((await cursors(tenant, sink))[0]).toMatchObject({ delivered_seq: 1, attempts: 1 })
    })

    it('is dead-lettered when the sink accepts other events in the same claim', async () => {
      const { tenant, sink, last } = await atLastAttempt()
      // Only chain 0's head fails now; a second, healthy chain gets through in the same claim.
      const other = await createChainTenant(db.sql, 1)
      await appendEvents(db.sql, other, 0, 1)
      await discoverChains(db.sql, sink.name)
      sink.failWith = (p) => (p.event.tenant_id === tenant.id && p.event.seq === 1 ? new Error('cannot store this one') : null)
      const report = await db.sql.begin(async (tx) => {
        const chains = (await claimOutboxBatch(tx, sink.name, { maxChains: 100, batchSize: 1_000, now: last })).filter(
          (c) => c.tenantId === tenant.id || c.tenantId === other.id,
        )
        return deliverClaimedChains(tx, sink, chains, policy, { now: last, sinkLastSuccessAt: null })
      })
      expect(report.deadLettered).toHaveLength(1)
      expect(await deadLetters(tenant, sink)).toEqual([{ shard: 0, seq: 1, attempts: policy.maxAttempts }])
      expect((await cursors(tenant, sink))[0]).toMatchObject({ delivered_seq: 2, attempts: 0 })
    })
  })
})
