import { nodeDigester } from '../src/audit/node-digester.ts'
import { storedFromRow, type AuthLogRow } from '../src/audit/stored-event.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { genesisHash, verifyChainSegment } from '../src/core/chain.ts'
import { nobleDigester } from '../src/core/digests.ts'
import { createOrganisation, createTenant } from '../src/db/tenants.ts'
import { checkpoint, createBenchDatabase } from './support/bench-database.ts'
import { countEvents, type CampaignRun, runPgbenchCampaign, runServiceCampaign, seedCampaign, vacuumHotTables, writeCampaignPgbenchScript } from './support/campaign.ts'
import { dropInvestigationIndexes, loadChainedEvents } from './support/chained-events.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'

const CLIENTS = 16

/**
 * Benchmark 3: (a) the cost of the chain under contention, 16 shards per tenant (the default) against
 * one chain per tenant, at 16 clients, through the service and through pgbench on the same statements;
 * (b) verification speed over 1,000,000 genuinely chained events.
 */
export const hashChainBenchmark: Benchmark = {
  name: 'hash-chain',
  title: 'Hash chain: append under contention, verification speed',
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 10
    const events = ctx.quick ? 100_000 : 1_000_000
    const tables: Table[] = []
    const figures: Figure[] = []
    const details: Record<string, unknown> = {}

    // (a) Append under contention.
    const db = await createBenchDatabase('hash_chain')
    try {
      const runs: Record<string, { service: CampaignRun; pgbench: CampaignRun }> = {}
      for (const shards of [16, 1]) {
        const campaign = await seedCampaign(db.sql, { slug: `chain-${shards}`, chainShards: shards, accounts: 20_000 })
        const script = await writeCampaignPgbenchScript(db.url, campaign, ctx.artefactDir, `hash-chain-${shards}-shards`)
        const pair: Partial<Record<'service' | 'pgbench', CampaignRun>> = {}
        for (const side of ['service', 'pgbench'] as const) {
          await vacuumHotTables(db.sql)
          await checkpoint(db.sql)
          const before = await countEvents(db.sql, campaign.tenant.id)
          const r = side === 'service' ? await runServiceCampaign(db.url, campaign, CLIENTS, seconds * 1000, ctx.quick ? 500 : 1_000) : await runPgbenchCampaign(db.url, script, CLIENTS, seconds)
          const written = (await countEvents(db.sql, campaign.tenant.id)) - before
          if (r.errors > 0 || written < r.ops) throw new Error(`${side}, ${shards} shards: ${r.errors} errors (${r.firstError ?? 'none'}), ${written} events for ${r.ops} attempts`)
          ctx.log(`  ${String(shards).padStart(2)} shard(s), ${side.padEnd(7)}: ${fmt(r.rate)} attempts/s, p50 ${fmt(r.latency.p50)} ms, p99 ${fmt(r.latency.p99)} ms`)
          pair[side] = r
        }
        runs[shards] = pair as Required<typeof pair>
      }
      const s16 = runs[16]!
      const s1 = runs[1]!
      tables.push({
        title: `Append under contention: ${CLIENTS} clients on one tenant, ${seconds} s per run, latency in ms`,
        columns: ['chains per tenant', 'service/s', 'p50', 'p99', 'CPU ms/att', 'pgbench tps', 'p50', 'p99', 'CPU ms/att', 'service ÷ pgbench'],
        rows: [16, 1].map((shards) => {
          const r = runs[shards]!
          const cpu = (x: CampaignRun) => x.cpu.clientMs + x.cpu.backendMs
          return [String(shards), r.service.rate, r.service.latency.p50, r.service.latency.p99, cpu(r.service), r.pgbench.rate, r.pgbench.latency.p50, r.pgbench.latency.p99, cpu(r.pgbench), `${(r.service.rate / r.pgbench.rate).toFixed(2)}×`]
        }),
      })
      figures.push({
        name: `appends at ${CLIENTS} clients, 16 chain shards`,
        value: s16.service.rate,
        unit: 'attempts/s',
        baseline: { name: 'one chain per tenant', value: s1.service.rate },
        ratio: s16.service.rate / s1.service.rate,
      })
      details.contention = runs
    } finally {
      await db.drop()
    }

    // (b) Verification over a million chained events.
    const vdb = await createBenchDatabase('chain_verify')
    try {
      const tenant = await createTenant(vdb.sql, { slug: 'verify' })
      const org = await createOrganisation(vdb.sql, tenant.id, 'verify-org')
      const dropped = await dropInvestigationIndexes(vdb.sql)
      const t0 = performance.now()
      let lastReport = 0
      await loadChainedEvents(vdb.sql, tenant, org.id, events, nodeDigester, {
        onProgress: (n) => {
          if (n - lastReport >= events / 5) {
            lastReport = n
            ctx.log(`  generated ${n.toLocaleString('en-US')} chained events`)
          }
        },
      })
      await vdb.sql`VACUUM ANALYZE auth_logs`
      const loadSeconds = (performance.now() - t0) / 1000
      ctx.log(`  ${events.toLocaleString('en-US')} events generated and loaded in ${loadSeconds.toFixed(0)} s`)

      // The database's part alone: the verifier's own paged query, rows parsed, nothing computed (4 of the 16 chains).
      const r0 = performance.now()
      const read = await readLikeVerifier(vdb.sql, tenant.id, 4)
      const readRate = read / ((performance.now() - r0) / 1000)

      const v0 = performance.now()
      const verification = await verifyTenantChain(vdb.sql, tenant.id, nodeDigester)
      const verifySeconds = (performance.now() - v0) / 1000
      if (!verification.ok || verification.verified_events !== events) {
        throw new Error(`verification failed: ok=${verification.ok}, ${verification.verified_events} of ${events}, first break ${JSON.stringify(verification.first_break)}`)
      }
      const verifyRate = events / verifySeconds

      // The computation alone, in memory, with each digester (the portable one on a sample).
      const sample = await vdb.sql<AuthLogRow[]>`SELECT * FROM auth_logs WHERE tenant_id = ${tenant.id} AND shard = 0 ORDER BY seq LIMIT 20000`
      const stored = sample.map(storedFromRow)
      const computeRate = (digester: typeof nodeDigester) => {
        const c0 = performance.now()
        const result = verifyChainSegment(stored, { seq: 0, hash: genesisHash(tenant.id, 0, digester) }, digester)
        if (!result.ok) throw new Error('in-memory verification failed')
        return stored.length / ((performance.now() - c0) / 1000)
      }
      computeRate(nodeDigester) // warm-up
      const nodeCompute = computeRate(nodeDigester)
      const nobleCompute = computeRate(nobleDigester)

      tables.push({
        title: `Verification of ${events.toLocaleString('en-US')} events (one tenant, 16 chains)`,
        columns: ['what', 'events/s', 'seconds'],
        rows: [
          ['verifyTenantChain with nodeDigester (node:crypto)', verifyRate, verifySeconds],
          ['  baseline: the same paged reads, no verification (4 of 16 chains)', readRate, read / readRate],
          ['  computation only, in memory, node:crypto (20k events)', nodeCompute, '–'],
          ['  computation only, in memory, @noble/hashes (20k events)', nobleCompute, '–'],
        ],
      })
      figures.push({
        name: `chain verification over ${events.toLocaleString('en-US')} events`,
        value: verifyRate,
        unit: 'events/s',
        baseline: { name: 'reading the same pages without verifying', value: readRate },
        ratio: verifyRate / readRate,
        target: { text: '≥ 200,000 events/s', met: verifyRate >= 200_000 },
      })
      details.verification = { events, loadSeconds, readRate, verifySeconds, verifyRate, nodeCompute, nobleCompute, droppedIndexes: dropped }
      return {
        tables,
        figures,
        notes: [
          'Append: the write path of benchmark 1 (attemptLogin with the benchmark-only hasher, one transaction per attempt) against one tenant whose chain is split in 16 shards (chosen by identifier) or kept whole (chainShards: 1); pgbench runs the statements captured for each tenant.',
          `Verification: ${events.toLocaleString('en-US')} events canonicalised, digested and linked in JS with appendToChain (nodeDigester), loaded with COPY; then verifyTenantChain(sql, tenant, nodeDigester) recomputes every digest and link and checks each chain's head, reading pages of 5,000 rows. The investigation indexes were dropped first (${dropped.length}; verification reads by chain position only) to keep the load inside the time budget.`,
          ctx.quick ? 'Quick mode: 100,000 events instead of 1,000,000.' : '',
        ].filter(Boolean),
        details,
      }
    } finally {
      await vdb.drop()
    }
  },
}

/** The verifier's reads without the verification: every shard, pages of 5,000 by sequence number. */
async function readLikeVerifier(sql: import('../src/db/client.ts').Sql, tenantId: string, chains: number): Promise<number> {
  const heads = await sql<{ shard: number }[]>`SELECT shard FROM chain_heads WHERE tenant_id = ${tenantId} ORDER BY shard LIMIT ${chains}`
  let n = 0
  for (const { shard } of heads) {
    let from = 0
    for (;;) {
      const rows = await sql<AuthLogRow[]>`
        SELECT * FROM auth_logs WHERE tenant_id = ${tenantId} AND shard = ${shard} AND seq > ${from} ORDER BY seq LIMIT 5000`
      n += rows.length
      if (rows.length < 5000) break
      from = rows[rows.length - 1]!.seq
    }
  }
  return n
}
