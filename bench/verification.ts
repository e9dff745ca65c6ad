import { nodeDigester } from '../src/audit/node-digester.ts'
import { storedFromRow, AUTH_LOG_COLUMNS, type AuthLogRow } from '../src/audit/stored-event.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { genesisHash, verifyChainSegment } from '../src/core/chain.ts'
import type { Sql } from '../src/db/client.ts'
import { createTenant } from '../src/db/tenants.ts'
import { loadVerificationTenant } from './support/chained-events.ts'
import { startCpuMeter } from './support/cpu-meter.ts'
import { fmt, type Benchmark, type Table } from './support/report.ts'

const PAGE = 5_000

/**
 * Benchmark: verification of a tenant's chains (every digest and every link recomputed, each head
 * checked), over genuinely chained events, side by side in one run:
 * - verifyTenantChain as it is: pages read as COPY text, parsed and hashed on 0 (in process), 1 and 2
 *   worker threads;
 * - the baseline: the previous verifier's method, pages read as row objects by the `postgres` client and
 *   verified in process, two chains at a time (kept here, beside the benchmark, to measure against);
 * - reading the same pages as row objects without verifying, for the database's and the client's share.
 * CPU per event of this process (all its threads) and of the PostgreSQL backends beside each rate.
 */
export const verificationBenchmark: Benchmark = {
  name: 'verification',
  title: 'Chain verification: COPY text on worker threads against row objects in process',
  async run(ctx) {
    // 300,000 rather than the 1,000,000 of earlier runs: loading a million takes minutes on a busy machine.
    const events = ctx.quick ? 100_000 : 300_000
    const { db, tenant, droppedIndexes: dropped } = await loadVerificationTenant('verification', events, ctx.log)
    try {
      const measure = async (label: string, run: () => Promise<number>) => {
        const meter = startCpuMeter(db.name, { self: true })
        const s0 = performance.now()
        const verified = await run()
        const seconds = (performance.now() - s0) / 1000
        const cpu = await meter.stop()
        if (verified !== events) throw new Error(`${label}: ${verified} of ${events} events`)
        const row = { label, rate: events / seconds, seconds, clientUs: (cpu.client / events) * 1e6, backendUs: (cpu.backends / events) * 1e6 }
        ctx.log(`  ${label.padEnd(44)} ${fmt(row.rate)} events/s, CPU ${fmt(row.clientUs)} µs client + ${fmt(row.backendUs)} µs PostgreSQL per event`)
        return row
      }
      const verify = (threads: number) => async () => {
        const result = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { threads })
        if (!result.ok) throw new Error(`verification failed: ${JSON.stringify(result.first_break)}`)
        return result.verified_events
      }
      // Threads are started once per process and count; a first small call starts them outside the timing.
      for (const threads of [1, 2]) await verifyTenantChain(db.sql, (await createTenant(db.sql, { slug: `warm-${threads}` })).id, nodeDigester, { threads })

      const rows: Awaited<ReturnType<typeof measure>>[] = []
      for (let round = 0; round < 2; round++) {
        rows.push(await measure('row objects, in process (previous verifier)', () => rowObjectVerify(db.sql, tenant.id)))
        rows.push(await measure('COPY text, in process (threads: 0)', verify(0)))
        rows.push(await measure('COPY text, 1 worker thread', verify(1)))
        rows.push(await measure('COPY text, 2 worker threads', verify(2)))
        rows.push(await measure('row objects read, not verified', () => readRowObjects(db.sql, tenant.id)))
      }
      const best = (label: string) => rows.filter((r) => r.label === label).sort((a, b) => b.rate - a.rate)[0]!
      const labels = [...new Set(rows.map((r) => r.label))]
      const baseline = best('row objects, in process (previous verifier)')
      const table: Table = {
        title: `Verification of ${events.toLocaleString('en-US')} events (one tenant, 16 chains), best of 2 rounds, CPU µs per event`,
        columns: ['method', 'events/s', 'seconds', '× previous', 'CPU client', 'CPU PostgreSQL'],
        rows: labels.map((l) => {
          const r = best(l)
          return [l, r.rate, r.seconds, `${(r.rate / baseline.rate).toFixed(2)}×`, r.clientUs, r.backendUs]
        }),
      }
      const two = best('COPY text, 2 worker threads')
      const one = best('COPY text, 1 worker thread')
      return {
        tables: [table],
        figures: [
          {
            name: `chain verification over ${events.toLocaleString('en-US')} events, 2 worker threads`,
            value: two.rate,
            unit: 'events/s',
            baseline: { name: 'the previous verifier (row objects, in process)', value: baseline.rate },
            ratio: two.rate / baseline.rate,
            target: { text: '≥ 50,000 events/s', met: two.rate >= 50_000 },
          },
          {
            name: `chain verification over ${events.toLocaleString('en-US')} events, 1 worker thread`,
            value: one.rate,
            unit: 'events/s',
            baseline: { name: 'the previous verifier (row objects, in process)', value: baseline.rate },
            ratio: one.rate / baseline.rate,
          },
        ],
        notes: [
          `${events.toLocaleString('en-US')} events canonicalised, digested and linked with appendToChain, loaded with COPY, round-robin over 16 chains; the investigation indexes dropped first (${dropped.length}; verification reads by chain position). Every method recomputes the three digests and the link of every event and checks each head; pages of ${PAGE.toLocaleString('en-US')} rows. The methods alternate, two rounds, best of each reported.`,
          'CPU client is this process with all its threads (process.cpuUsage); CPU PostgreSQL is the backends of the benchmark database, from /proc.',
          ctx.quick ? 'Quick mode: 100,000 events instead of 300,000.' : '',
        ].filter(Boolean),
        details: { events, rows },
      }
    } finally {
      await db.drop()
    }
  },
}

async function* rowPages(sql: Sql, tenantId: string, shard: number): AsyncGenerator<AuthLogRow[]> {
  let from = 0
  let next = sql<AuthLogRow[]>`
    SELECT ${sql(AUTH_LOG_COLUMNS)} FROM auth_logs WHERE tenant_id = ${tenantId} AND shard = ${shard} AND seq > ${from} ORDER BY seq LIMIT ${PAGE}`
  for (;;) {
    const rows = await next
    if (rows.length === 0) return
    from = rows[rows.length - 1]!.seq
    next = sql<AuthLogRow[]>`
      SELECT ${sql(AUTH_LOG_COLUMNS)} FROM auth_logs WHERE tenant_id = ${tenantId} AND shard = ${shard} AND seq > ${from} ORDER BY seq LIMIT ${PAGE}`
    yield rows
    if (rows.length < PAGE) {
      await next
      return
    }
  }
}

/** Runs `perChain` over every chain of the tenant, two chains at a time; returns the events counted. */
async function twoChainsAtATime(sql: Sql, tenantId: string, perChain: (shard: number) => Promise<number>): Promise<number> {
  const heads = await sql<{ shard: number }[]>`SELECT shard FROM chain_heads WHERE tenant_id = ${tenantId} ORDER BY shard`
  let cursor = 0
  let total = 0
  await Promise.all(
    [0, 1].map(async () => {
      while (cursor < heads.length) {
        const counted = await perChain(heads[cursor++]!.shard)
        total += counted
      }
    }),
  )
  return total
}

/** The previous verifier's method, chains only: row objects in process, every digest and link. */
function rowObjectVerify(sql: Sql, tenantId: string): Promise<number> {
  return twoChainsAtATime(sql, tenantId, async (shard) => {
    let from = { seq: 0, hash: genesisHash(tenantId, shard, nodeDigester) }
    let count = 0
    for await (const rows of rowPages(sql, tenantId, shard)) {
      const result = verifyChainSegment(rows.map(storedFromRow), from, nodeDigester)
      if (!result.ok) throw new Error(`row-object verification failed: ${JSON.stringify(result.break)}`)
      from = { seq: result.seq, hash: result.hash }
      count += result.count
    }
    return count
  })
}

/** The same pages as row objects, nothing computed. */
function readRowObjects(sql: Sql, tenantId: string): Promise<number> {
  return twoChainsAtATime(sql, tenantId, async (shard) => {
    let count = 0
    for await (const rows of rowPages(sql, tenantId, shard)) count += rows.length
    return count
  })
}
