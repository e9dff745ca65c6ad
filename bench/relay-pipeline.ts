import { nodeDigester } from '../src/audit/node-digester.ts'
import { createSql } from '../src/db/client.ts'
import { createOrganisation, createTenant } from '../src/db/tenants.ts'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { createSyslogSink } from '../src/sinks/syslog/create-syslog-sink.ts'
import { startRsyslog } from '../test/support/rsyslog.ts'
import { createBenchDatabase } from './support/bench-database.ts'
import { loadChainedEvents } from './support/chained-events.ts'
import { fmt, type Benchmark } from './support/report.ts'

const TENANTS = 4

/**
 * Benchmark: the relay's claims pipelined (two per sink at once while they go through whole) against
 * one at a time, side by side in one run: an in-process relay drains the same outbox backlog (64 chains)
 * to rsyslog over TCP, alternating the two settings, three rounds. Events/s from the start to the last
 * confirmed delivery; CPU per event of this process (the relay) from process.cpuUsage.
 */
export const relayPipelineBenchmark: Benchmark = {
  name: 'relay-pipeline',
  title: 'Relay: pipelined claims against one claim at a time (rsyslog TCP)',
  async run(ctx) {
    const backlog = ctx.quick ? 20_000 : 100_000
    const db = await createBenchDatabase('relay_pipeline')
    const rx = await startRsyslog()
    try {
      for (let t = 0; t < TENANTS; t++) {
        const tenant = await createTenant(db.sql, { slug: `pipe-${t}` })
        const org = await createOrganisation(db.sql, tenant.id, `pipe-${t}-org`)
        await loadChainedEvents(db.sql, tenant, org.id, backlog / TENANTS, nodeDigester, { authLogs: false, outbox: true })
      }
      await db.sql`VACUUM ANALYZE outbox`
      const results: Record<string, { rate: number; cpuUs: number }[]> = {}
      for (let round = 0; round < 3; round++) {
        for (const pipelineClaims of [false, true]) {
          const label = pipelineClaims ? 'pipelined (two claims at once)' : 'one claim at a time'
          await db.sql`DELETE FROM outbox_cursors WHERE sink = 'syslog'`
          const sql = createSql(db.url, { max: 4 })
          const sink = createSyslogSink({ url: rx.tcpUrl })
          // Compaction off: every run starts from the same backlog.
          const relay = createOutboxRelay({ sql, sinks: [sink], listen: false, pipelineClaims, compactIntervalMs: 3_600_000 })
          const cpu0 = process.cpuUsage()
          const t0 = performance.now()
          try {
            await relay.start()
            for (;;) {
              const delivered = relay.stats().sinks.syslog?.delivered ?? 0
              if (delivered >= backlog) break
              if (performance.now() - t0 > 300_000) throw new Error(`${label}: ${delivered} of ${backlog} in 300 s`)
              await new Promise((r) => setTimeout(r, 5))
            }
          } finally {
            await relay.stop()
            await sink.close()
            await sql.end({ timeout: 5 })
          }
          const seconds = (performance.now() - t0) / 1000
          const cpu = process.cpuUsage(cpu0)
          const r = { rate: backlog / seconds, cpuUs: (cpu.user + cpu.system) / backlog }
          ;(results[label] ??= []).push(r)
          ctx.log(`  ${label.padEnd(32)} ${fmt(r.rate)} events/s, ${fmt(r.cpuUs)} µs relay CPU per event`)
        }
      }
      const best = (label: string) => results[label]!.reduce((a, b) => (b.rate > a.rate ? b : a))
      const on = best('pipelined (two claims at once)')
      const off = best('one claim at a time')
      return {
        tables: [
          {
            title: `Relay → rsyslog TCP, ${backlog.toLocaleString('en-US')} events over 64 chains, best of 3 rounds`,
            columns: ['claims', 'events/s', 'relay CPU µs/event'],
            rows: Object.keys(results).map((l) => [l, best(l).rate, best(l).cpuUs]),
          },
        ],
        figures: [
          {
            name: 'relay → rsyslog TCP, pipelined claims',
            value: on.rate,
            unit: 'events/s',
            baseline: { name: 'one claim at a time', value: off.rate },
            ratio: on.rate / off.rate,
          },
        ],
        notes: ['In-process relay (createOutboxRelay with createSyslogSink), batches of 2,000, the settings alternating within each round; cursors reset between runs.'],
        details: { backlog, results },
      }
    } finally {
      await rx.stop()
      await db.drop()
    }
  },
}
