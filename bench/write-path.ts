import { checkpoint, createBenchDatabase } from './support/bench-database.ts'
import { countEvents, runPgbenchCampaign, runServiceCampaign, seedCampaign, vacuumHotTables, writeCampaignPgbenchScript } from './support/campaign.ts'
import { fmt, type Benchmark, type Table } from './support/report.ts'
import type { CampaignRun } from './support/campaign.ts'

const CLIENTS = [1, 4, 16, 32]

/**
 * Benchmark 1: the per-attempt transaction driven through the service code (`attemptLogin` with a
 * benchmark-only hasher) against pgbench running the same statements, at 1, 4, 16 and 32 clients.
 */
export const writePathBenchmark: Benchmark = {
  name: 'write-path',
  title: 'Write path vs pgbench on the same statements',
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 10
    const warmupMs = ctx.quick ? 500 : 1_000
    const db = await createBenchDatabase('write_path')
    try {
      const campaign = await seedCampaign(db.sql, { slug: 'campaign', chainShards: 16, accounts: 100_000 })
      const script = await writeCampaignPgbenchScript(db.url, campaign, ctx.artefactDir, 'write-path')
      ctx.log(`pgbench script: ${script.file}`)

      const rows: (string | number)[][] = []
      const cpuRows: (string | number)[][] = []
      const series: Record<string, { service: CampaignRun; pgbench: CampaignRun }> = {}
      for (const [i, clients] of (ctx.clients ?? CLIENTS).entries()) {
        // Alternate which side goes first, so that neither always meets the warmer (or more bloated) table.
        const order = i % 2 === 0 ? (['pgbench', 'service'] as const) : (['service', 'pgbench'] as const)
        const results: Partial<Record<'service' | 'pgbench', CampaignRun>> = {}
        for (const side of order) {
          await vacuumHotTables(db.sql)
          await checkpoint(db.sql)
          const before = await countEvents(db.sql, campaign.tenant.id)
          const r =
            side === 'service'
              ? await runServiceCampaign(db.url, campaign, clients, seconds * 1000, warmupMs)
              : await runPgbenchCampaign(db.url, script, clients, seconds)
          const written = (await countEvents(db.sql, campaign.tenant.id)) - before
          if (r.errors > 0 || written < r.ops) {
            throw new Error(`${side} at ${clients} clients: ${r.errors} errors (${r.firstError ?? 'none'}), ${written} events written for ${r.ops} attempts`)
          }
          ctx.log(`  ${side.padEnd(7)} ${String(clients).padStart(2)} clients: ${fmt(r.rate)} attempts/s, p50 ${fmt(r.latency.p50)} ms, p99 ${fmt(r.latency.p99)} ms`)
          results[side] = r
        }
        const { service, pgbench } = results as Required<typeof results>
        series[String(clients)] = { service, pgbench }
        const serviceCpu = service.cpu.clientMs + service.cpu.backendMs
        const pgbenchCpu = pgbench.cpu.clientMs + pgbench.cpu.backendMs
        cpuRows.push([String(clients), service.cpu.clientMs, service.cpu.backendMs, serviceCpu, pgbench.cpu.clientMs, pgbench.cpu.backendMs, pgbenchCpu, `${(pgbenchCpu / serviceCpu).toFixed(2)}×`])
        rows.push([String(clients), service.rate, service.latency.p50, service.latency.p99, pgbench.rate, pgbench.latency.p50, pgbench.latency.p99, `${(service.rate / pgbench.rate).toFixed(2)}×`])
      }

      const table: Table = {
        title: `Attempts/s and latency (ms), ${seconds} s per run, 16 chain shards, ${campaign.accounts.toLocaleString('en-US')} accounts`,
        columns: ['clients', 'service/s', 'p50', 'p99', 'pgbench tps', 'p50', 'p99', 'service ÷ pgbench'],
        rows,
      }
      const cpuTable: Table = {
        title: 'CPU per attempt (ms), client process and PostgreSQL backends: what bounds the rate once the 2 cores are busy',
        columns: ['clients', 'service: Node', 'its backends', 'total', 'pgbench', 'its backends', 'total', 'pgbench total ÷ service total'],
        rows: cpuRows,
      }
      const at16 = series['16']
      const ratio16 = at16 ? at16.service.rate / at16.pgbench.rate : Number.NaN
      return {
        tables: [table, cpuTable],
        figures: !at16 ? [] : [
          {
            name: 'write path at 16 clients',
            value: at16.service.rate,
            unit: 'attempts/s',
            baseline: { name: 'pgbench, same statements', value: at16.pgbench.rate },
            ratio: ratio16,
            target: { text: '≥ 0.8×', met: ratio16 >= 0.8 },
          },
        ],
        notes: [
          'Service side: attemptLogin (the login use case: account look-up, then one transaction of lockout upsert, lockout update, chain-head update, auth_logs + chain head + outbox CTE) with a hasher defined under bench/ that does no hashing; a client is an async loop, the pool has exactly one connection per client.',
          `pgbench side: ${script.file.split('/').pop()} (kept under bench/results/artefacts), generated from the statements one real attempt sent; same texts, same order, -M prepared, -j 2. Bound per transaction: the account (uniform over all accounts), its shard (account mod 16, where the service hashes the identifier), user/organisation ids and the sequence number read back with \\gset, and event ids from a time-prefixed UUID expression (pgbench cannot produce UUIDs). Captured NULLs are inlined as NULL; every other parameter is the captured value, so timestamps, digests and the outbox payload are the same size but constant.`,
          'Every run is checked: no errors and one auth_logs row per counted attempt. Before each run: VACUUM chain_heads and account_lockouts, CHECKPOINT.',
          'Both sides share the 2 cores with PostgreSQL: the service spends CPU in Node (JSON, digests, the client library, a socket write per statement) that pgbench, written in C, does not. CPU per attempt is read from /proc (the client process; the backends of the benchmark database, sampled every 100 ms) and stays meaningful on a busy machine where rates do not: once both cores are saturated, the expected rate ratio is the inverse ratio of total CPU per attempt.',
        ],
        details: { series, pgbenchScript: script.file, substitutions: script.substitutions, statements: script.statements },
      }
    } finally {
      await db.drop()
    }
  },
}
