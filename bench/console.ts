import type { TenantScope } from '../src/core/tenancy.ts'
import { createUser } from '../src/db/tenants.ts'
import { readTenantOverview, readTrailVersion } from '../src/monitoring/tenant-overview.ts'
import { bearerFor, createTestApp } from '../test/support/test-app.ts'
import { createBenchDatabase } from './support/bench-database.ts'
import { buildInvestigationData } from './support/investigation-data.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'
import { percentile } from './support/stats.ts'

const SUBSCRIBERS = [1, 10, 100]
const PUSHES = 20

/** Runs `fn` `repeat` times after warming up (3 runs); answers the median, the 95th percentile and the slowest, in ms. */
async function time(fn: () => Promise<unknown>, repeat: number): Promise<{ p50: number; p95: number; max: number }> {
  for (let i = 0; i < 3; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  return { p50: percentile(samples, 50), p95: percentile(samples, 95), max: samples[samples.length - 1]! }
}

/** Reads `overview` events off an SSE body, calling `onOverview` with each one's arrival time. */
async function follow(body: NonNullable<Response['body']>, onOverview: (at: number) => void, stopped: () => boolean): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  while (!stopped()) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      if (buffer.slice(0, end).startsWith('event: overview')) onOverview(performance.now())
      buffer = buffer.slice(end + 2)
    }
  }
  await reader.cancel().catch(() => {})
}

/**
 * Benchmark: the live overview's cost. One snapshot (GET /v1/monitoring/overview's read) on a tenant of
 * 1,000,000 events whose last hour is an attack (50,000 failures, 500 lockouts), against the same read in
 * a quiet hour; then the event stream with 1, 10 and 100 subscribers of one scope: every subscriber shares
 * one poll and one read per change, so what grows with them is only the serialising and writing of each push.
 */
export const consoleBenchmark: Benchmark = {
  name: 'console',
  title: 'Live overview: ms per snapshot and per push with N subscribers',
  async run(ctx) {
    const size = ctx.quick ? 200_000 : 1_000_000
    const repeat = ctx.quick ? 10 : 30
    const db = await createBenchDatabase(`console_${size}`)
    try {
      const data = await buildInvestigationData(db.sql, size, ctx.log)
      const sql = db.sql
      const scope: TenantScope = { tenantId: data.tenant.id, organisationId: data.organisationId }
      // A year of hourly signed checkpoints of 16 chains, and a verification a day: what the overview's newest-row reads meet.
      await sql`
        INSERT INTO signed_checkpoints (tenant_id, shard, seq, chain_hash, signed_at, key_id, signature, event_id)
        SELECT ${data.tenant.id}, s, h + 1, decode(repeat('ab', 32), 'hex'), ${data.attack.to}::timestamptz - (8760 - h) * interval '1 hour',
          'bench-key', decode(repeat('cd', 64), 'hex'), gen_random_uuid()
        FROM generate_series(0, 15) AS s, generate_series(1, 8760) AS h`
      await sql`
        INSERT INTO chain_verifications (id, tenant_id, verified_at, ok, verified_events, signatures_checked, via, verified_by, duration_ms)
        SELECT gen_random_uuid(), ${data.tenant.id}, ${data.attack.to}::timestamptz - d * interval '1 day', true, 1000000, true, 'command', NULL, 30000
        FROM generate_series(0, 364) AS d`
      await sql`ANALYZE signed_checkpoints`
      await sql`ANALYZE chain_verifications`

      const attackEnd = new Date(data.attack.to.getTime() - 1)
      const quietEnd = new Date(data.attack.from.getTime() - 6 * 3_600_000)
      const attack = await time(() => readTenantOverview({ sql }, scope, attackEnd), repeat)
      const quiet = await time(() => readTenantOverview({ sql }, scope, quietEnd), repeat)
      const version = await time(() => readTrailVersion(sql, data.tenant.id), repeat * 3)
      const sample = await readTenantOverview({ sql }, scope, attackEnd)
      const bytes = Buffer.byteLength(JSON.stringify(sample))
      if (!sample || sample.totals.failures < 10_000 || sample.chain.last_checkpoint === null || sample.chain.last_verification === null) {
        throw new Error(`unexpected overview of the attack hour: ${JSON.stringify(sample?.totals)}`)
      }
      ctx.log(`  snapshot: attack hour ${fmt(attack.p50)} ms (p95 ${fmt(attack.p95)}), quiet hour ${fmt(quiet.p50)} ms, version ${fmt(version.p50)} ms; ${bytes} bytes`)

      // The stream, in process (app.request), as the service serves it: the clock at the attack's end.
      const t = await createTestApp(sql, {})
      t.clock.now = attackEnd
      const { id: userId } = await createUser(sql, { tenantId: data.tenant.id, organisationId: data.organisationId, identifier: 'auditor@bench.test', passwordHash: await t.hasher.hash('unused password of the bench'), role: 'auditor' })
      const bearer = await bearerFor(t.tokens, { tenant: data.tenant, organisationId: data.organisationId, users: { 'auditor@bench.test': { id: userId, identifier: 'auditor@bench.test', password: '', role: 'auditor' } } }, 'auditor@bench.test')
      const streamRows: (string | number)[][] = []
      const perPush: Record<number, { latency50: number; latencyMax: number; cpuMs: number }> = {}
      for (const n of SUBSCRIBERS) {
        const arrivals: number[][] = Array.from({ length: n }, () => [])
        let stop = false
        const readers: Promise<void>[] = []
        for (let i = 0; i < n; i++) {
          const res = await t.app.request('/v1/monitoring/overview/stream', { headers: { authorization: bearer } })
          if (res.status !== 200) throw new Error(`stream answered ${res.status}`)
          readers.push(follow(res.body!, (at) => arrivals[i]!.push(at), () => stop))
        }
        // Everyone has the first overview: then each push is caused by moving the trail's version.
        const deadline = Date.now() + 60_000
        while (arrivals.some((a) => a.length < 1)) {
          if (Date.now() > deadline) throw new Error('subscribers never got their first overview')
          await new Promise((r) => setTimeout(r, 20))
        }
        const latencies: number[] = []
        const cpu0 = process.cpuUsage()
        for (let k = 0; k < PUSHES; k++) {
          const before = arrivals.map((a) => a.length)
          const bumped = performance.now()
          await sql`UPDATE chain_heads SET seq = seq + 1 WHERE tenant_id = ${data.tenant.id} AND shard = 0`
          const until = Date.now() + 60_000
          while (arrivals.some((a, i) => a.length <= before[i]!)) {
            if (Date.now() > until) throw new Error(`push ${k} never reached every subscriber`)
            await new Promise((r) => setTimeout(r, 5))
          }
          latencies.push(Math.max(...arrivals.map((a) => a[a.length - 1]!)) - bumped)
        }
        const cpu = process.cpuUsage(cpu0)
        stop = true
        latencies.sort((a, b) => a - b)
        const row = { latency50: percentile(latencies, 50), latencyMax: latencies[latencies.length - 1]!, cpuMs: (cpu.user + cpu.system) / 1000 / PUSHES }
        perPush[n] = row
        streamRows.push([n, row.latency50, row.latencyMax, row.cpuMs, row.cpuMs / n])
        ctx.log(`  ${n} subscribers: change to last arrival p50 ${fmt(row.latency50)} ms, max ${fmt(row.latencyMax)} ms; ${fmt(row.cpuMs)} ms CPU per push`)
        // A last change wakes every reader so that it sees `stop` and lets its stream go.
        await sql`UPDATE chain_heads SET seq = seq + 1 WHERE tenant_id = ${data.tenant.id} AND shard = 0`
        await Promise.race([Promise.all(readers), new Promise((r) => setTimeout(r, 10_000))])
      }

      const tables: Table[] = [
        {
          title: `One overview snapshot (readTenantOverview, organisation scope), ${size.toLocaleString('en-US')} events, ${repeat} runs`,
          columns: ['read', 'p50 ms', 'p95 ms', 'max ms'],
          rows: [
            ['overview, the attack hour (50,000 failures)', attack.p50, attack.p95, attack.max],
            ['overview, a quiet hour', quiet.p50, quiet.p95, quiet.max],
            ['trail version (polled every second per watched scope)', version.p50, version.p95, version.max],
          ],
        },
        {
          title: `Event stream, one scope, ${PUSHES} pushes each (the poll's 1 s period included in the latency)`,
          columns: ['subscribers', 'change → last subscriber p50 ms', 'max ms', 'service CPU ms per push', 'per subscriber'],
          rows: streamRows,
        },
      ]
      const figures: Figure[] = [
        {
          name: `overview snapshot, attack hour, ${(size / 1e6).toLocaleString('en-US')}M events`,
          value: attack.p50,
          unit: 'ms',
          baseline: { name: 'the same read in a quiet hour', value: quiet.p50 },
          ratio: attack.p50 / quiet.p50,
        },
        {
          name: `CPU per push with ${SUBSCRIBERS.at(-1)} subscribers`,
          value: perPush[SUBSCRIBERS.at(-1)!]!.cpuMs,
          unit: 'ms',
          baseline: { name: 'with 1 subscriber', value: perPush[1]!.cpuMs },
          ratio: perPush[SUBSCRIBERS.at(-1)!]!.cpuMs / perPush[1]!.cpuMs,
        },
      ]
      return {
        tables,
        figures,
        notes: [
          `Data as in the queries benchmark (one tenant of ${size.toLocaleString('en-US')} events over 30 days with an attack hour, three other tenants), plus 16 chains × 8,760 hourly signed checkpoints and 365 daily verifications, so that the newest-checkpoint and last-verification reads meet a year of rows.`,
          `A snapshot is ${bytes.toLocaleString('en-US')} bytes of JSON. The stream runs in process (app.request, as the monitoring tests do): each push is caused by moving a chain head (what a login does to the trail's version); latency runs from that UPDATE to the last subscriber's arrival and includes waiting for the feed's next poll (every 1 s), so its floor is the poll period, not the read. CPU is this process's (service and readers alike), per push.`,
        ],
        details: { size, attack, quiet, version, bytes, perPush },
      }
    } finally {
      await db.drop()
    }
  },
}
