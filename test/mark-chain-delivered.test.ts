import { describe, expect, it } from 'vitest'
import type { Tenant } from '../src/db/tenants.ts'
import { discoverChains } from '../src/outbox/discover-chains.ts'
import { markChainFailed } from '../src/outbox/mark-chain-failed.ts'
import { markChainsDelivered } from '../src/outbox/mark-chain-delivered.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'

// The relay's verb that moves cursors forward, on its own: forward only, this sink only, failure state cleared.

const db = useTestDatabase('mark_chain_delivered')
const T0 = new Date('2030-01-01T00:00:00.000Z')

interface Cursor {
  sink: string
  shard: number
  delivered_seq: number
  attempts: number
  /** next_attempt_at is -infinity: the chain is tried at the next claim. */
  due: boolean
  last_error: string | null
  failing_since: Date | null
}

/** A tenant with two chains (three and two events) and a cursor per chain for each sink, chain 0 failing for syslog. */
async function setUp(): Promise<Tenant> {
  const tenant = await createChainTenant(db.sql, 2)
  await appendEvents(db.sql, tenant, 0, 3)
  await appendEvents(db.sql, tenant, 1, 2)
  await discoverChains(db.sql, 'syslog')
  await discoverChains(db.sql, 'docstore')
  await db.sql.begin((tx) => markChainFailed(tx, 'syslog', { tenantId: tenant.id, shard: 0, deliveredSeq: 1, attempts: 2, retryInMs: 5_000, error: 'Error: boom' }, T0))
  return tenant
}

function cursors(tenant: Tenant) {
  return db.sql<Cursor[]>`
    SELECT sink, shard, delivered_seq::int AS delivered_seq, attempts, next_attempt_at = '-infinity' AS due, last_error, failing_since
    FROM outbox_cursors WHERE tenant_id = ${tenant.id} ORDER BY sink, shard`
}

const healthy = { attempts: 0, due: true, last_error: null, failing_since: null }

describe('markChainsDelivered', () => {
  it('moves each named cursor of the sink to its seq and clears its failure state, in one call', async () => {
    const tenant = await setUp()
    expect((await cursors(tenant)).find((c) => c.sink === 'syslog' && c.shard === 0)).toMatchObject({ delivered_seq: 1, attempts: 2, due: false, last_error: 'Error: boom', failing_since: T0 })
    await db.sql.begin((tx) =>
      markChainsDelivered(tx, 'syslog', [
        { tenantId: tenant.id, shard: 0, seq: 3 },
        { tenantId: tenant.id, shard: 1, seq: 2 },
      ]),
    )
    expect(await cursors(tenant)).toEqual([
      { sink: 'docstore', shard: 0, delivered_seq: 0, ...healthy },
      { sink: 'docstore', shard: 1, delivered_seq: 0, ...healthy },
      { sink: 'syslog', shard: 0, delivered_seq: 3, ...healthy },
      { sink: 'syslog', shard: 1, delivered_seq: 2, ...healthy },
    ])
  })

  it('never moves a cursor back, and leaves a cursor it does not move as it was', async () => {
    const tenant = await setUp()
    await db.sql.begin((tx) => markChainsDelivered(tx, 'syslog', [{ tenantId: tenant.id, shard: 1, seq: 2 }]))
    const before = await cursors(tenant)
    await db.sql.begin((tx) =>
      markChainsDelivered(tx, 'syslog', [
        // Chain 0 is at 1 and failing: an advance to where it already is changes nothing, its failure state included.
        { tenantId: tenant.id, shard: 0, seq: 1 },
        { tenantId: tenant.id, shard: 1, seq: 1 },
      ]),
    )
    expect(await cursors(tenant)).toEqual(before)
  })

  it('does nothing for no advances', async () => {
    const tenant = await setUp()
    const before = await cursors(tenant)
    await db.sql.begin((tx) => markChainsDelivered(tx, 'syslog', []))
    expect(await cursors(tenant)).toEqual(before)
  })
})
