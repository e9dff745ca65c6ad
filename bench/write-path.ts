import { checkpoint, createBenchDatabase } from './support/bench-database.ts'
import { countEvents, runPgbenchCampaign, runServiceCampaign, seedCampaign, vacuumHotTables, writeCampaignPgbenchScript, type CampaignRun } from './support/campaign.ts'
import { installLegacyNotify, legacyAttemptLogin, removeLegacyNotify } from './support/legacy-write-path.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'
import { analyzeGrownTables, seedTrailHistory } from './support/trail-history.ts'

const CLIENTS = [1, 4, 16, 32]

/** The variants measured at each client count, in one run. */
const VARIANTS = ['one call', 'before', 'before, no NOTIFY', 'pgbench minimal'] as const
type Variant = (typeof VARIANTS)[number]

/**
 * Benchmark 1: the login write path as it is (`attemptLogin`: the account read, then one call of the
 * append function) against, in the same run, the path as it was before (six round trips, digests in the
 * client, the per-statement NOTIFY trigger), that old path without the NOTIFY (the unchecked direct
 * writes), and pgbench running the minimal statements without NOTIFY.
 */
export const writePathBenchmark: Benchmark = {
  name: 'write-path',
  title: 'Write path: one call of the append function vs the previous path and pgbench',
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 10
    const warmupMs = ctx.quick ? 500 : 1_000
    const db = await createBenchDatabase('write_path')
    try {
      const campaign = await seedCampaign(db.sql, { slug: 'campaign', chainShards: 16, accounts: 100_000 })
      // A trail in use, analysed: every variant's connections plan on the tables' real sizes (see seedTrailHistory).
      const historyEvents = ctx.quick ? 20_000 : 200_000
      await seedTrailHistory(db.sql, historyEvents)
      const script = await writeCampaignPgbenchScript(db.url, campaign, ctx.artefactDir, 'write-path')
      ctx.log(`pgbench script: ${script.file}`)

      // A service in use has long had its hot paths compiled by V8; runs of a few seconds from a cold
      // process would charge that compiling (and the code's slower tiers until then) to the first Node
      // variant measured. pgbench has nothing to compile. So each Node variant runs unmeasured first.
      const clientCounts = ctx.clients ?? CLIENTS
      const jitWarmupMs = ctx.quick ? 1_000 : 8_000
      for (const attempt of [undefined, legacyAttemptLogin]) {
        await runServiceCampaign(db.url, campaign, Math.max(...clientCounts), jitWarmupMs, 0, attempt)
      }

      const rows: (string | number)[][] = []
      const cpuRows: (string | number)[][] = []
      const series: Record<string, Record<Variant, CampaignRun>> = {}
      for (const [i, clients] of clientCounts.entries()) {
        // Rotate which variant goes first, so that none always meets the warmer (or more bloated) table.
        const order = VARIANTS.map((_, k) => VARIANTS[(k + i) % VARIANTS.length]!)
        const results: Partial<Record<Variant, CampaignRun>> = {}
        for (const variant of order) {
          await vacuumHotTables(db.sql)
          await analyzeGrownTables(db.sql)
          await checkpoint(db.sql)
          const before = await countEvents(db.sql, campaign.tenant.id)
          if (variant === 'before') await installLegacyNotify(db.sql)
          let r: CampaignRun
          try {
            r =
              variant === 'pgbench minimal'
                ? await runPgbenchCampaign(db.url, script, clients, seconds)
                : await runServiceCampaign(db.url, campaign, clients, seconds * 1000, warmupMs, variant === 'one call' ? undefined : legacyAttemptLogin)
          } finally {
            await removeLegacyNotify(db.sql)
          }
          const written = (await countEvents(db.sql, campaign.tenant.id)) - before
          if (r.errors > 0 || written < r.ops) {
            throw new Error(`${variant} at ${clients} clients: ${r.errors} errors (${r.firstError ?? 'none'}), ${written} events written for ${r.ops} attempts`)
          }
          ctx.log(`  ${variant.padEnd(17)} ${String(clients).padStart(2)} clients: ${fmt(r.rate)} attempts/s, p50 ${fmt(r.latency.p50)} ms, p99 ${fmt(r.latency.p99)} ms`)
          results[variant] = r
        }
        const all = results as Record<Variant, CampaignRun>
        series[String(clients)] = all
        const cpu = (r: CampaignRun) => r.cpu.clientMs + r.cpu.backendMs
        rows.push([
          String(clients),
          ...VARIANTS.flatMap((v) => [all[v].rate, all[v].latency.p99]),
          `${(all['one call'].rate / all.before.rate).toFixed(2)}×`,
          `${(all['one call'].rate / all['before, no NOTIFY'].rate).toFixed(2)}×`,
          `${(all['one call'].rate / all['pgbench minimal'].rate).toFixed(2)}×`,
        ])
        cpuRows.push([String(clients), ...VARIANTS.flatMap((v) => [all[v].cpu.clientMs, all[v].cpu.backendMs, cpu(all[v])])])
      }

      const table: Table = {
        title: `Attempts/s and p99 latency (ms), ${seconds} s per run, 16 chain shards, ${campaign.accounts.toLocaleString('en-US')} accounts`,
        columns: [
          'clients',
          ...VARIANTS.flatMap((v) => [`${v}/s`, 'p99']),
          'one call ÷ before',
          'one call ÷ before without NOTIFY',
          'one call ÷ pgbench minimal',
        ],
        rows,
      }
      const cpuTable: Table = {
        title: 'CPU per attempt (ms): client process, PostgreSQL backends, total',
        columns: ['clients', ...VARIANTS.flatMap((v) => [`${v}: client`, 'backends', 'total'])],
        rows: cpuRows,
      }
      const figures: Figure[] = []
      const at16 = series['16']
      if (at16) {
        const one = at16['one call'].rate
        const vsBefore = one / at16.before.rate
        const vsPgbench = one / at16['pgbench minimal'].rate
        const vsUnchecked = one / at16['before, no NOTIFY'].rate
        figures.push(
          { name: 'write path at 16 clients vs the previous path', value: one, unit: 'attempts/s', baseline: { name: 'previous path (6 round trips, NOTIFY)', value: at16.before.rate }, ratio: vsBefore, target: { text: '≥ 1.4×', met: vsBefore >= 1.4 } },
          { name: 'write path at 16 clients vs pgbench minimal', value: one, unit: 'attempts/s', baseline: { name: 'pgbench, minimal statements, no NOTIFY', value: at16['pgbench minimal'].rate }, ratio: vsPgbench, target: { text: '≥ 0.8×', met: vsPgbench >= 0.8 } },
          { name: 'checked append vs unchecked direct writes at 16 clients', value: one, unit: 'attempts/s', baseline: { name: 'previous path without NOTIFY', value: at16['before, no NOTIFY'].rate }, ratio: vsUnchecked, target: { text: '≥ 0.95× (no more than 5 % slower)', met: vsUnchecked >= 0.95 } },
        )
      }
      return {
        tables: [table, cpuTable],
        figures,
        notes: [
          'one call: attemptLogin as it is, with a hasher defined under bench/ that does no hashing: the account read (the lockout snapshot), the pure policy, then one call of append_auth_events, which re-checks the snapshot under the row lock and numbers, digests (SHA-256/512 built in, SHA3-256 by pgcrypto) and links the event under the chain head lock. A client is an async loop; the pool has one connection per client.',
          'before: the previous write path, kept as bench/support/legacy-write-path.ts (account read, BEGIN, lockout upsert, chain-head seq update, one CTE for auth_logs + head hash + outbox + lockout state, COMMIT; digests with @noble/hashes in the client) with the per-statement NOTIFY trigger on outbox it ran with, installed for its runs only. "before, no NOTIFY": the same without the trigger, i.e. unchecked direct table writes (it needs the owner or a superuser).',
          `pgbench minimal: ${script.file.split('/').pop()} (kept under bench/results/artefacts): lockout upsert, chain-head update, auth_logs insert, outbox insert, no NOTIFY, -M prepared, -j 2; values of a real event's sizes, constant; the account uniform per transaction.`,
          `Before the runs: a trail with history (${historyEvents.toLocaleString('en-US')} events of another tenant), analysed, as a database in use has (this PostgreSQL runs without autovacuum). Every run is checked: no errors and one auth_logs row per counted attempt. Before each run: VACUUM chain_heads and account_lockouts, ANALYZE of the tables the runs grow, CHECKPOINT.`,
          `Before the runs, each Node variant (attemptLogin, the previous path) ran ${jitWarmupMs / 1000} s unmeasured at ${Math.max(...clientCounts)} clients, so that V8 has compiled its hot paths as in a service in use; each run then has ${warmupMs / 1000} s of warm-up for its new connections.`,
          'CPU per attempt is read from /proc (the client process; the backends of the benchmark database, sampled every 100 ms) and stays meaningful on a busy machine where rates do not.',
        ],
        details: { series, pgbenchScript: script.file, statements: script.statements },
      }
    } finally {
      await db.drop()
    }
  },
}
