import { hostname } from 'node:os'
import { connect as connectTcp, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { connect as connectTls } from 'node:tls'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { attemptLogin } from '../src/auth/attempt-login.ts'
import type { OutboxPayload } from '../src/core/auth-event.ts'
import { frameOctetCounted } from '../src/core/octet-framing.ts'
import { createSyslog5424Formatter } from '../src/core/syslog-5424.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { createOrganisation, createTenant } from '../src/db/tenants.ts'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'
import { startRsyslog, type RsyslogReceiver } from '../test/support/rsyslog.ts'
import { createBenchDatabase } from './support/bench-database.ts'
import { campaignDeps, campaignInput, seedCampaign } from './support/campaign.ts'
import { loadChainedEvents } from './support/chained-events.ts'
import { cefExternalId, tailReceipts } from './support/receipt-tailer.ts'
import { startCpuMeter } from './support/cpu-meter.ts'
import { processCpuSeconds } from './support/process-cpu.ts'
import { productionEnv } from './support/production-env.ts'
import { startRelayProcess } from './support/relay-process.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'
import { summarise } from './support/stats.ts'

const TENANTS = 4
/** The same write size as the stream transport's default, so the baseline batches like the sink does. */
const WRITE_BYTES = 256 * 1024
const LAG_RATE = 1_000

/**
 * Benchmark 4: the outbox relay draining a backlog to rsyslog over TCP, RELP and mutual TLS (the
 * production relay command as its own process) and to the in-memory document store, each against a
 * baseline that does the sink's job without the relay; then the end-to-end lag from commit to receipt
 * in rsyslog's file at a steady 1,000 attempts/s.
 */
export const relayBenchmark: Benchmark = {
  name: 'relay',
  title: 'Outbox relay: backlog throughput and end-to-end lag',
  async run(ctx) {
    const backlog = ctx.quick ? 20_000 : 200_000
    const lagSeconds = ctx.quick ? 20 : 60
    const db = await createBenchDatabase('relay')
    let rx: RsyslogReceiver | null = null
    try {
      for (let t = 0; t < TENANTS; t++) {
        const tenant = await createTenant(db.sql, { slug: `relay-${t}` })
        const org = await createOrganisation(db.sql, tenant.id, `relay-${t}-org`)
        await loadChainedEvents(db.sql, tenant, org.id, backlog / TENANTS, nodeDigester, { authLogs: false, outbox: true })
      }
      // A cursor per chain for a sink that never runs: compaction keeps every row, so each run starts from the same backlog.
      await db.sql`INSERT INTO outbox_cursors (sink, tenant_id, shard) SELECT DISTINCT 'bench-hold', tenant_id, shard FROM outbox`
      await db.sql`VACUUM ANALYZE outbox`
      const chains = (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox_cursors`)[0]!.n
      ctx.log(`  backlog: ${backlog.toLocaleString('en-US')} outbox rows over ${chains} chains`)

      rx = await startRsyslog()
      const payloads = await readBacklog(db.sql)
      const format = createSyslog5424Formatter({ deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0' }, { hostname: hostname(), appName: 'authtrail', procId: String(process.pid) })
      const chunks = toWrites(payloads.map((p) => frameOctetCounted(format(p))))
      const tls = { ca: readFileSync(rx.certs.caFile), cert: readFileSync(rx.certs.clientCertFile), key: readFileSync(rx.certs.clientKeyFile) }

      const rows: (string | number)[][] = []
      const rates: Record<string, number> = {}
      /** CPU ms per event from the first arrival to the last: the sender (the relay process), its PostgreSQL backends, rsyslog. */
      type Cpu = { senderMs: number; backendMs: number; rsyslogMs: number }
      const measureRsyslog = async (label: string, drive: () => Promise<{ stop: () => Promise<void>; pids: number[] }>, senderPids: number[] = []) => {
        rx!.clearLines()
        const before = rx!.countLines()
        let sender: { stop: () => Promise<void>; pids: number[] } | null = null
        let atFirst: { sender: number; rsyslog: number; meter: ReturnType<typeof startCpuMeter> } | null = null
        const onFirst = () => {
          atFirst = {
            sender: senderPids.length ? senderPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) : Number.NaN,
            rsyslog: rx!.pid ? processCpuSeconds(rx!.pid) : Number.NaN,
            meter: startCpuMeter(db.name, {}),
          }
        }
        // Watch from before the first byte is sent: a bare client can finish before a late watcher looks.
        const watch = { cancelled: false }
        const watching = watchArrivals(() => rx!.countLines() - before, backlog, 120_000, watch, onFirst)
        try {
          sender = await drive()
        } catch (error) {
          watch.cancelled = true
          await watching.catch(() => {})
          throw error
        }
        let cpu: Cpu = { senderMs: Number.NaN, backendMs: Number.NaN, rsyslogMs: Number.NaN }
        const r = await watching.finally(async () => {
          const first = atFirst as { sender: number; rsyslog: number; meter: ReturnType<typeof startCpuMeter> } | null
          if (first) {
            const senderNow = senderPids.length ? senderPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) : Number.NaN
            const rsyslogNow = rx!.pid ? processCpuSeconds(rx!.pid) : Number.NaN
            const backends = await first.meter.stop()
            cpu = { senderMs: ((senderNow - first.sender) * 1000) / backlog, backendMs: (backends.backends * 1000) / backlog, rsyslogMs: ((rsyslogNow - first.rsyslog) * 1000) / backlog }
          }
          await sender?.stop()
        })
        const received = rx!.countLines() - before
        if (received < backlog) throw new Error(`${label}: rsyslog received ${received} of ${backlog}`)
        ctx.log(`  ${label}: ${fmt(r.rate)} events/s (${fmt(r.seconds, 2)} s${received > backlog ? `, ${received - backlog} duplicates` : ''}); CPU µs/event: sender ${fmt(cpu.senderMs * 1000)}, PostgreSQL ${fmt(cpu.backendMs * 1000)}, rsyslog ${fmt(cpu.rsyslogMs * 1000)}`)
        rates[label] = r.rate
        return { ...r, duplicates: received - backlog, cpu }
      }

      const bareTcp = await measureRsyslog('bare client → rsyslog TCP', async () => {
        const socket = await openTcp(rx!.tcpPort)
        await writeAll(socket, chunks)
        return { stop: async () => void socket.end(), pids: [] }
      })
      const relayRun = async (label: string, env: Record<string, string>, processes = 1) => {
        // Cursors parked in the future: the relays start (compile, connect, migrate) idle, and all begin together when released.
        await db.sql`DELETE FROM outbox_cursors WHERE sink = 'syslog'`
        await db.sql`
          INSERT INTO outbox_cursors (sink, tenant_id, shard, next_attempt_at)
          SELECT DISTINCT 'syslog', tenant_id, shard, 'infinity'::timestamptz FROM outbox`
        const relays: Awaited<ReturnType<typeof startRelayProcess>>[] = []
        for (let i = 0; i < processes; i++) relays.push(await startRelayProcess(productionEnv(db.url, env)))
        const r = await measureRsyslog(label, async () => {
          await db.sql`UPDATE outbox_cursors SET next_attempt_at = '-infinity' WHERE sink = 'syslog'`
          return { stop: async () => void (await Promise.all(relays.map((x) => x.stop()))), pids: relays.map((x) => x.child.pid!) }
        }, relays.map((x) => x.child.pid!))
        const [cursor] = await db.sql<{ n: number }[]>`SELECT coalesce(sum(delivered_seq), 0)::int AS n FROM outbox_cursors WHERE sink = 'syslog'`
        if (cursor!.n !== backlog) throw new Error(`${label}: cursors passed ${cursor!.n} of ${backlog} events`)
        return r
      }
      const relayTcp = await relayRun('relay → rsyslog TCP', { SYSLOG_URL: rx.tcpUrl })
      // RELP: every event acknowledged by rsyslog, whose RELP ruleset writes before it acknowledges.
      const relayRelp = await relayRun('relay → rsyslog RELP', { SYSLOG_URL: rx.relpUrl })
      // The relay command scales out by running more of them (they share chains with SKIP LOCKED): how far two go.
      const relayTcp2 = await relayRun('2 relay processes → rsyslog TCP', { SYSLOG_URL: rx.tcpUrl }, 2)
      const bareTls = await measureRsyslog('bare client → rsyslog mutual TLS', async () => {
        const socket = await openTls(rx!.tlsPort, tls)
        await writeAll(socket, chunks)
        return { stop: async () => void socket.end(), pids: [] }
      })
      const relayTls = await relayRun('relay → rsyslog mutual TLS', {
        SYSLOG_URL: rx.tlsUrl,
        SYSLOG_TLS_CA: rx.certs.caFile,
        SYSLOG_TLS_CERT: rx.certs.clientCertFile,
        SYSLOG_TLS_KEY: rx.certs.clientKeyFile,
      })

      // The document store: the sink called directly in batches of 500 (the relay's batch size), then through the relay.
      const direct = createDocumentStoreSink(createMemoryDocumentStore())
      const d0 = performance.now()
      for (let i = 0; i < payloads.length; i += 500) await direct.deliver(payloads.slice(i, i + 500))
      const directRate = payloads.length / ((performance.now() - d0) / 1000)
      ctx.log(`  memory document store, sink called directly: ${fmt(directRate)} events/s`)
      payloads.length = 0
      chunks.length = 0
      const docRate = await relayToMemoryStore(db.url, backlog)
      ctx.log(`  relay → memory document store: ${fmt(docRate)} events/s`)

      rows.push(
        ['rsyslog over TCP', relayTcp.rate, bareTcp.rate, `${(relayTcp.rate / bareTcp.rate).toFixed(2)}×`, relayTcp.cpu.senderMs * 1000, relayTcp.cpu.backendMs * 1000, relayTcp.cpu.rsyslogMs * 1000, bareTcp.cpu.rsyslogMs * 1000],
        ['rsyslog over RELP (baseline: the relay over TCP)', relayRelp.rate, relayTcp.rate, `${(relayRelp.rate / relayTcp.rate).toFixed(2)}×`, relayRelp.cpu.senderMs * 1000, relayRelp.cpu.backendMs * 1000, relayRelp.cpu.rsyslogMs * 1000, relayTcp.cpu.rsyslogMs * 1000],
        ['rsyslog over TCP, 2 relay processes', relayTcp2.rate, bareTcp.rate, `${(relayTcp2.rate / bareTcp.rate).toFixed(2)}×`, relayTcp2.cpu.senderMs * 1000, relayTcp2.cpu.backendMs * 1000, relayTcp2.cpu.rsyslogMs * 1000, bareTcp.cpu.rsyslogMs * 1000],
        ['rsyslog over mutual TLS', relayTls.rate, bareTls.rate, `${(relayTls.rate / bareTls.rate).toFixed(2)}×`, relayTls.cpu.senderMs * 1000, relayTls.cpu.backendMs * 1000, relayTls.cpu.rsyslogMs * 1000, bareTls.cpu.rsyslogMs * 1000],
        ['in-memory document store', docRate, directRate, `${(docRate / directRate).toFixed(2)}×`, '–', '–', '–', '–'],
      )
      const tables: Table[] = [
        {
          title: `Draining a backlog of ${backlog.toLocaleString('en-US')} outbox rows (${chains} chains), events/s`,
          columns: ['sink', 'relay', 'baseline', 'relay ÷ baseline', 'CPU µs/event: relay', 'PostgreSQL', 'rsyslog', 'rsyslog (baseline)'],
          rows,
        },
      ]

      // End-to-end lag at a steady rate: the backlog goes, the relay runs as in production.
      await db.sql`TRUNCATE outbox, outbox_cursors`
      const lag = await measureLag(db.url, db.sql, rx, lagSeconds, ctx.log)
      const steady = lag.achievedRate >= 0.95 * LAG_RATE
      tables.push({
        title: `End-to-end lag, commit → line in rsyslog's file, at ${LAG_RATE.toLocaleString('en-US')} attempts/s for ${lagSeconds} s (ms)`,
        columns: ['attempts/s achieved', 'events', 'received', 'p50', 'p99', 'max'],
        rows: [[lag.achievedRate, lag.committed, lag.received, lag.latency.p50, lag.latency.p99, lag.latency.max]],
      })

      const figures: Figure[] = [
        {
          name: 'relay → rsyslog over TCP',
          value: relayTcp.rate,
          unit: 'events/s',
          baseline: { name: 'bare Node client, same bytes', value: bareTcp.rate },
          ratio: relayTcp.rate / bareTcp.rate,
          target: { text: '≥ 20,000/s and ≥ 0.5×', met: relayTcp.rate >= 20_000 && relayTcp.rate / bareTcp.rate >= 0.5 },
        },
        {
          name: 'relay → rsyslog over RELP',
          value: relayRelp.rate,
          unit: 'events/s',
          baseline: { name: 'the relay over TCP, same run', value: relayTcp.rate },
          ratio: relayRelp.rate / relayTcp.rate,
          target: { text: '≥ 0.5× TCP', met: relayRelp.rate / relayTcp.rate >= 0.5 },
        },
        {
          name: 'relay → rsyslog over mutual TLS',
          value: relayTls.rate,
          unit: 'events/s',
          baseline: { name: 'bare Node client over TLS, same bytes', value: bareTls.rate },
          ratio: relayTls.rate / bareTls.rate,
        },
        {
          name: 'relay → in-memory document store',
          value: docRate,
          unit: 'events/s',
          baseline: { name: 'the sink called directly', value: directRate },
          ratio: docRate / directRate,
        },
        {
          name: `lag p99 at ${LAG_RATE.toLocaleString('en-US')} attempts/s`,
          value: lag.latency.p99,
          unit: 'ms',
          baseline: { name: 'p50', value: lag.latency.p50 },
          target: { text: `< 1,000 ms${steady ? '' : ` (NOT at the rate: ${Math.round(lag.achievedRate)}/s achieved)`}`, met: steady && lag.latency.p99 < 1_000 && lag.received === lag.committed },
        },
      ]
      return {
        tables,
        figures,
        notes: [
          `Backlog: ${backlog.toLocaleString('en-US')} genuinely chained events (appendToChain) written as outbox rows over ${TENANTS} tenants × 16 shards (auth_logs rows are not needed by the relay and were not written). A cursor of a sink that never runs keeps compaction from deleting the backlog, so every run drains the same rows; the relay's compaction query still runs on its schedule.`,
          'Relay runs are the production relay command (`authtrail relay`, default batch size RELAY_BATCH_SIZE = 2000) in its own process, started with its cursors parked so that start-up is not timed; events/s is measured at rsyslog: from the first line to the last line appearing in its capture file (rsyslog writes each message as one line, flushed per batch). Every run is checked: all events received, cursors at the end of every chain.',
          'RELP: the same relay command with SYSLOG_URL=relp://, against rsyslog\'s imrelp, whose ruleset has a direct queue so that rsyslog writes each message before acknowledging it (the configuration that loses nothing across a crash of rsyslog; docs/cef.md). Its baseline is the relay over plain TCP in the same run: what acknowledged delivery costs.',
          'A second relay row runs two relay processes side by side (the command is built to share chains between instances with FOR UPDATE SKIP LOCKED): how far the relay scales out on this machine.',
          'Baseline: one Node TCP (or mutual-TLS) connection writing the same frames (formatted once with the sink\'s formatter, octet-counted, joined into 256 KiB writes as the sink does) as fast as the socket takes them; measured the same way at rsyslog.',
          'Document store: the relay in this process with the in-memory store (there is no environment setting for it), against the same sink called directly with the same payloads in batches of 500.',
          `Lag: attemptLogin (benchmark-only hasher) in this process, open loop at ${LAG_RATE}/s over 20,000 accounts; the relay command runs with SYSLOG_URL=tcp. Commit time = when the attempt's transaction returned; receipt time = when this process saw the line in rsyslog's file (polled every 5 ms).`,
        ],
        details: { bareTcp, relayTcp, relayRelp, relayTcp2, bareTls, relayTls, directRate, docRate, lag: { ...lag, lags: undefined } },
      }
    } finally {
      await rx?.dispose()
      await db.drop()
    }
  },
}

async function readBacklog(sql: Sql): Promise<OutboxPayload[]> {
  const payloads: OutboxPayload[] = []
  await sql<{ payload: OutboxPayload }[]>`SELECT payload FROM outbox ORDER BY tenant_id, shard, seq`.cursor(5_000, (rows) => {
    for (const r of rows) payloads.push(r.payload)
  })
  return payloads
}

function toWrites(frames: string[]): Buffer[] {
  const writes: Buffer[] = []
  let current: string[] = []
  let bytes = 0
  for (const f of frames) {
    current.push(f)
    bytes += f.length
    if (bytes >= WRITE_BYTES) {
      writes.push(Buffer.from(current.join('')))
      current = []
      bytes = 0
    }
  }
  if (current.length) writes.push(Buffer.from(current.join('')))
  return writes
}

function openTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1')
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

function openTls(port: number, files: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, ...files })
    socket.once('secureConnect', () => resolve(socket))
    socket.once('error', reject)
  })
}

async function writeAll(socket: Socket, chunks: Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r))
  }
}

/** Polls a count until it reaches `total`; the rate is measured from the first arrival to the last. */
async function watchArrivals(
  count: () => number,
  total: number,
  timeoutMs: number,
  watch: { cancelled: boolean },
  onFirst: () => void,
): Promise<{ rate: number; seconds: number }> {
  const start = performance.now()
  let first: { at: number; n: number } | null = null
  for (;;) {
    if (watch.cancelled) throw new Error('watch cancelled')
    const n = count()
    const now = performance.now()
    if (n > 0 && first === null) {
      first = { at: now, n }
      onFirst()
    }
    if (n >= total) {
      const seconds = (now - (first?.at ?? start)) / 1000
      return { rate: (total - (first?.n ?? 0)) / Math.max(seconds, 1e-3), seconds }
    }
    if (now - start > timeoutMs) throw new Error(`only ${n} of ${total} arrived within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

async function relayToMemoryStore(url: string, backlog: number): Promise<number> {
  const sql = createSql(url, { max: 3 })
  const relay = createOutboxRelay({ sql, sinks: [createDocumentStoreSink(createMemoryDocumentStore())], listen: true })
  try {
    const t0 = performance.now()
    await relay.start()
    for (;;) {
      const delivered = relay.stats().sinks.docstore?.delivered ?? 0
      if (delivered >= backlog) return backlog / ((performance.now() - t0) / 1000)
      if (performance.now() - t0 > 120_000) throw new Error(`docstore relay delivered ${delivered} of ${backlog} in 120 s`)
      await new Promise((r) => setTimeout(r, 5))
    }
  } finally {
    await relay.stop()
    await sql.end({ timeout: 5 })
  }
}

async function measureLag(url: string, admin: Sql, rx: RsyslogReceiver, seconds: number, log: (m: string) => void) {
  const campaign = await seedCampaign(admin, { slug: 'lag', chainShards: 16, accounts: 20_000 })
  rx.clearLines()
  const relay = await startRelayProcess(productionEnv(url, { SYSLOG_URL: rx.tcpUrl }))
  const tail = tailReceipts(rx.receivedFile, cefExternalId)
  const sql = createSql(url, { max: 16 })
  const deps = campaignDeps(sql)
  const commits = new Map<string, number>()
  let launched = 0
  let inFlight = 0
  let skipped = 0
  let errors = 0
  try {
    const t0 = performance.now()
    const end = t0 + seconds * 1000
    const attempt = async () => {
      inFlight++
      try {
        const result = await attemptLogin(deps, campaignInput(campaign, Math.floor(Math.random() * campaign.accounts)))
        commits.set(result.eventId, performance.now())
      } catch {
        errors++
      } finally {
        inFlight--
      }
    }
    // Open loop: attempts are due at a fixed rate whether or not earlier ones have finished.
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - t0) / 1000) * LAG_RATE)
      while (launched + skipped < due) {
        if (inFlight >= 256) skipped++
        else {
          launched++
          void attempt()
        }
      }
      await new Promise((r) => setTimeout(r, 2))
    }
    const achievedRate = launched / ((performance.now() - t0) / 1000)
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5))
    log(`  lag: ${launched} attempts at ${fmt(achievedRate)}/s (${skipped} skipped, ${errors} failed); waiting for the relay`)
    const waitUntil = performance.now() + 30_000
    while ([...commits.keys()].some((id) => !tail.receipts.has(id)) && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 20))
    tail.poll()
    const lags: number[] = []
    for (const [id, committedAt] of commits) {
      const receivedAt = tail.receipts.get(id)
      if (receivedAt !== undefined) lags.push(Math.max(0, receivedAt - committedAt))
    }
    const latency = summarise(lags)
    log(`  lag: p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms, max ${fmt(latency.max)} ms; ${lags.length} of ${commits.size} received`)
    return { achievedRate, committed: commits.size, received: lags.length, skipped, errors, latency, lags }
  } finally {
    tail.stop()
    await sql.end({ timeout: 5 })
    await relay.stop()
  }
}
