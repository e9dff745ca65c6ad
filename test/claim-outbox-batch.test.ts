import { expect, it } from 'vitest'
import { claimOutboxBatch } from '../src/outbox/claim-outbox-batch.ts'
import { discoverChains } from '../src/outbox/discover-chains.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'

// What one claim takes, in its one statement: which chains (healthy before retrying, none backing off, none
// with nothing to deliver, at most maxChains), and how many events of each (an equal share of batchSize).

const db = useTestDatabase('claim_outbox_batch')
const T0 = new Date('2030-01-01T00:00:00.000Z')

it('claims healthy chains before retrying ones, skips those backing off or delivered, and gives each an equal share of the batch', async () => {
  const tenant = await createChainTenant(db.sql, 5)
  const ids: string[][] = []
  for (const shard of [0, 1, 2, 3, 4]) ids.push(await appendEvents(db.sql, tenant, shard, 5))
  await discoverChains(db.sql, 'syslog')
  // Shard 1 failed once and may be retried now; shard 2 backs off past the claim; shard 3 is delivered; shard 4 is healthy.
  await db.sql`UPDATE outbox_cursors SET attempts = 1, next_attempt_at = ${new Date(T0.getTime() - 1_000)} WHERE sink = 'syslog' AND tenant_id = ${tenant.id} AND shard = 1`
  await db.sql`UPDATE outbox_cursors SET attempts = 2, next_attempt_at = ${new Date(T0.getTime() + 1_000)} WHERE sink = 'syslog' AND tenant_id = ${tenant.id} AND shard = 2`
  await db.sql`UPDATE outbox_cursors SET delivered_seq = 5 WHERE sink = 'syslog' AND tenant_id = ${tenant.id} AND shard = 3`
  // Shard 4 served more recently than shard 0: among healthy chains, the least recently served comes first.
  await db.sql`UPDATE outbox_cursors SET updated_at = clock_timestamp() + interval '1 second' WHERE sink = 'syslog' AND tenant_id = ${tenant.id} AND shard = 4`
  await db.sql`UPDATE outbox_cursors SET updated_at = clock_timestamp() - interval '1 second' WHERE sink = 'syslog' AND tenant_id = ${tenant.id} AND shard = 0`

  const claim = (maxChains: number, batchSize: number) =>
    db.sql.begin((tx) => claimOutboxBatch(tx, 'syslog', { maxChains, batchSize, now: T0 }))
  const shape = (chains: Awaited<ReturnType<typeof claim>>) =>
    chains.map((c) => ({ shard: c.shard, attempts: c.attempts, deliveredSeq: c.deliveredSeq, seqs: c.rows.map((r) => r.seq), ids: c.rows.map((r) => r.eventId) }))

  expect(shape(await claim(3, 7))).toEqual([
    { shard: 0, attempts: 0, deliveredSeq: 0, seqs: [1, 2, 3], ids: ids[0]!.slice(0, 3) },
    { shard: 4, attempts: 0, deliveredSeq: 0, seqs: [1, 2, 3], ids: ids[4]!.slice(0, 3) },
    { shard: 1, attempts: 1, deliveredSeq: 0, seqs: [1, 2, 3], ids: ids[1]!.slice(0, 3) },
  ])
  // At most maxChains; a share is at least one event.
  expect(shape(await claim(2, 1)).map((c) => [c.shard, c.seqs])).toEqual([[0, [1]], [4, [1]]])
  expect(shape(await claim(1, 100)).map((c) => [c.shard, c.seqs])).toEqual([[0, [1, 2, 3, 4, 5]]])
  // The payload is the outbox row's: the event it carries.
  const [chain] = await claim(1, 1)
  expect(chain!.rows[0]!.payload.event.id).toBe(ids[0]![0])
})

it('skips chains another claim holds, and claims them once it has ended', async () => {
  const tenant = await createChainTenant(db.sql, 2)
  for (const shard of [0, 1]) await appendEvents(db.sql, tenant, shard, 2)
  await discoverChains(db.sql, 'docstore')
  const ours = (chains: { tenantId: string; shard: number }[]) => chains.filter((c) => c.tenantId === tenant.id).map((c) => c.shard)
  await db.sql.begin(async (first) => {
    const held = ours(await claimOutboxBatch(first, 'docstore', { maxChains: 100, batchSize: 10, now: T0 }))
    expect(held.sort()).toEqual([0, 1])
    const meanwhile = await db.sql.begin((second) => claimOutboxBatch(second, 'docstore', { maxChains: 100, batchSize: 10, now: T0 }))
    expect(ours(meanwhile)).toEqual([])
  })
  const after = await db.sql.begin((tx) => claimOutboxBatch(tx, 'docstore', { maxChains: 100, batchSize: 10, now: T0 }))
  expect(ours(after).sort()).toEqual([0, 1])
})
