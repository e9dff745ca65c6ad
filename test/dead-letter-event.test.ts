import { describe, expect, it } from 'vitest'
import type { Tenant } from '../src/db/tenants.ts'
import { deadLetterEvent } from '../src/outbox/dead-letter-event.ts'
import { discoverChains } from '../src/outbox/discover-chains.ts'
import { markChainFailed } from '../src/outbox/mark-chain-failed.ts'
import { markChainsDelivered } from '../src/outbox/mark-chain-delivered.ts'
import type { OutboxRow } from '../src/outbox/outbox-row.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'

// The relay's dead-letter verb on its own: the event's payload kept, its chain moved past it with its
// failure state cleared, never moved back; dead-lettered again after a re-drive, the newer failure counts.

const db = useTestDatabase('dead_letter_event')
const T0 = new Date('2030-01-01T00:00:00.000Z')
const SINK = 'syslog'

/** A tenant with one chain of three events, its syslog cursor at 1 and failing at event 2. */
async function setUp(): Promise<Tenant> {
  const tenant = await createChainTenant(db.sql, 1)
  await appendEvents(db.sql, tenant, 0, 3)
  await discoverChains(db.sql, SINK)
  await db.sql.begin((tx) => markChainFailed(tx, SINK, { tenantId: tenant.id, shard: 0, deliveredSeq: 1, attempts: 2, retryInMs: 5_000, error: 'Error: boom' }, T0))
  return tenant
}

async function outboxRow(tenant: Tenant, seq: number): Promise<OutboxRow> {
  const [row] = await db.sql<{ event_id: string; tenant_id: string; shard: number; seq: number; payload: OutboxRow['payload'] }[]>`
    SELECT event_id, tenant_id, shard, seq::int AS seq, payload FROM outbox WHERE tenant_id = ${tenant.id} AND shard = 0 AND seq = ${seq}`
  return { eventId: row!.event_id, tenantId: row!.tenant_id, shard: row!.shard, seq: row!.seq, payload: row!.payload }
}

async function cursor(tenant: Tenant) {
  const [c] = await db.sql<{ delivered_seq: number; attempts: number; due: boolean; last_error: string | null; failing_since: Date | null }[]>`
    SELECT delivered_seq::int AS delivered_seq, attempts, next_attempt_at = '-infinity' AS due, last_error, failing_since
    FROM outbox_cursors WHERE sink = ${SINK} AND tenant_id = ${tenant.id} AND shard = 0`
  return c!
}

function deadLetters(tenant: Tenant) {
  return db.sql<{ event_id: string; seq: number; payload: unknown; attempts: number; last_error: string; redriven_at: Date | null }[]>`
    SELECT event_id, seq::int AS seq, payload, attempts, last_error, redriven_at FROM outbox_dead_letters WHERE sink = ${SINK} AND tenant_id = ${tenant.id} ORDER BY seq`
}

describe('deadLetterEvent', () => {
  it("keeps the event's payload as a dead letter and moves its chain past it, failure state cleared", async () => {
    const tenant = await setUp()
    const row = await outboxRow(tenant, 2)
    await db.sql.begin((tx) => deadLetterEvent(tx, SINK, row, 3, 'PermanentSinkError: refused'))
    expect(await deadLetters(tenant)).toEqual([{ event_id: row.eventId, seq: 2, payload: row.payload, attempts: 3, last_error: 'PermanentSinkError: refused', redriven_at: null }])
    expect(await cursor(tenant)).toEqual({ delivered_seq: 2, attempts: 0, due: true, last_error: null, failing_since: null })
  })

  it('never moves the chain back past events delivered since', async () => {
    const tenant = await setUp()
    await db.sql.begin((tx) => markChainsDelivered(tx, SINK, [{ tenantId: tenant.id, shard: 0, seq: 3 }]))
    const row = await outboxRow(tenant, 2)
    await db.sql.begin((tx) => deadLetterEvent(tx, SINK, row, 3, 'Error: late'))
    expect((await cursor(tenant)).delivered_seq).toBe(3)
  })

  it('dead-letters an event again after a re-drive with the newer failure', async () => {
    const tenant = await setUp()
    const row = await outboxRow(tenant, 2)
    await db.sql.begin((tx) => deadLetterEvent(tx, SINK, row, 3, 'Error: first'))
    await db.sql`UPDATE outbox_dead_letters SET redriven_at = now() WHERE sink = ${SINK} AND event_id = ${row.eventId}`
    await db.sql.begin((tx) => deadLetterEvent(tx, SINK, row, 5, 'Error: second'))
    expect(await deadLetters(tenant)).toEqual([expect.objectContaining({ event_id: row.eventId, attempts: 5, last_error: 'Error: second', redriven_at: null })])
  })
})
