import { checkpoint, createBenchDatabase } from './support/bench-database.ts'
import { countEvents, type CampaignRun, runPgbenchCampaign, runServiceCampaign, seedCampaign, vacuumHotTables, writeCampaignPgbenchScript } from './support/campaign.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'

const CLIENTS = 16

/**
 * Benchmark 3: the cost of the chain under contention, 16 shards per tenant (the default) against one
 * chain per tenant, at 16 clients, through the service and through pgbench on the same statements.
 * Verification speed is benchmark `verification`.
 */
export const hashChainBenchmark: Benchmark = {
  name: 'hash-chain',
  title: 'Hash chain: append under contention',
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 10
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
    return {
      tables,
      figures,
      notes: [
        'Append: the write path of benchmark 1 (attemptLogin with the benchmark-only hasher, one transaction per attempt) against one tenant whose chain is split in 16 shards (chosen by identifier) or kept whole (chainShards: 1); pgbench runs the statements captured for each tenant.',
        'Verification speed has its own benchmark (`verification`).',
      ],
      details,
    }
  },
}
