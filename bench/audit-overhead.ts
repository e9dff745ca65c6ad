import { createArgon2Hasher } from '../src/auth/argon2-hasher.ts'
import { freePort, spawnService } from '../test/support/spawn-service.ts'
import { createBenchDatabase } from './support/bench-database.ts'
import { LOGIN_CONCURRENCY, LOGIN_PASSWORD, measureLogins, runBareVerifications, seedLoginTenant, startBareLoginServer, type LoginPhase } from './support/login-load.ts'
import { productionEnv } from './support/production-env.ts'
import { seedTrailHistory } from './support/trail-history.ts'
import { fmt, type Benchmark } from './support/report.ts'

/**
 * Benchmark 2: end-to-end HTTP logins on the real Node server (production entrypoint, argon2id at the
 * production parameters) against a bare Hono server on the same HTTP stack doing only the verify, same
 * client and concurrency, counted in CPU per login; beside it the same number of bare argon2id
 * verifications without HTTP. Then the locked-account path, which must not hash.
 */
/** Unmeasured locked-account logins the service answers before the measured ones. */
const WARM_UP_SECONDS = 20

export const auditOverheadBenchmark: Benchmark = {
  name: 'audit-overhead',
  title: 'Audit overhead on a real argon2id login',
  async run(ctx) {
    // Logins run for a fixed time (bounded on a slow machine too); the baseline then does as many verifications.
    const seconds = ctx.quick ? 3 : 10
    const db = await createBenchDatabase('audit_overhead')
    const phc = await createArgon2Hasher().hash(LOGIN_PASSWORD)
    let service: ReturnType<typeof spawnService> | null = null
    try {
      const open = await seedLoginTenant(db.sql, 'shop', phc, 'open')
      await seedLoginTenant(db.sql, 'locked', phc, 'locked')
      // A trail in use, analysed: the service's connections plan on the tables' real sizes (see seedTrailHistory).
      await seedTrailHistory(db.sql, ctx.quick ? 20_000 : 200_000)

      const port = await freePort()
      service = spawnService('node', productionEnv(db.url, {
          HOST: '127.0.0.1',
          PORT: String(port),
          RELAY_ENABLED: 'false',
          PASSWORD_HASHER: 'native',
          // On a machine loaded by other work a login can take longer than the 5 s request deadline, which
          // answers 503 and closes the connection: the benchmark measures cost per login, not the deadline.
          REQUEST_TIMEOUT_MS: '60000',
          // The benchmark's client is the one proxy hop: each account logs in from an address of its own.
          TRUSTED_PROXIES: '1',
        }))
      await service.waitForHealthy(`http://127.0.0.1:${port}`, 60_000)
      const pid = service.child.pid!
      const target = { port, pids: () => [pid] }

      // Measured warm: V8 compiles the service's hot paths over its first seconds (in one process the CPU of a
      // locked-account login halved over the first 30 s of such logins), while the bare server's few lines
      // are compiled after its 80 unmeasured logins. So the service first answers locked-account logins,
      // every step of a login but the hash, unmeasured.
      await measureLogins(target, { database: db.name, slug: 'locked', mode: 'locked', seconds: ctx.quick ? 3 : WARM_UP_SECONDS, warmup: 0, addressPerAccount: true })
      const login = await measureLogins(target, { database: db.name, slug: 'shop', mode: 'alternating', seconds, warmup: ctx.quick ? 40 : 80, addressPerAccount: true })
      const http = login.run
      const [loginCpuMs, loginPgMs] = [login.serviceCpuMs, login.pgCpuMs]
      ctx.log(`  HTTP logins:   ${fmt(http.rate)} logins/s, p50 ${fmt(http.latency.p50)} ms (CPU per login: service ${fmt(loginCpuMs)} ms, PostgreSQL ${fmt(loginPgMs)} ms)`)

      // The honest baseline: the same HTTP stack (Hono on @hono/node-server) doing only the verify, same client, same load.
      const bare = await startBareLoginServer(phc, await freePort())
      let hono: Awaited<ReturnType<typeof measureLogins>>
      try {
        hono = await measureLogins({ port: bare.port, pids: () => [bare.pid] }, { database: db.name, slug: 'shop', mode: 'alternating', seconds, warmup: ctx.quick ? 40 : 80 })
      } finally {
        await bare.stop()
      }
      const honoCpuMs = hono.serviceCpuMs
      ctx.log(`  bare Hono:     ${fmt(hono.run.rate)} logins/s, p50 ${fmt(hono.run.latency.p50)} ms (CPU per login: ${fmt(honoCpuMs)} ms)`)

      const base = await runBareVerifications('native', phc, http.ops, ctx.quick ? 20 : 40)
      ctx.log(`  bare argon2id: ${fmt(base.rate)} verifications/s, p50 ${fmt(base.latency.p50)} ms, ${fmt(base.cpuMsPerOp)} ms CPU each`)

      const locked = await measureLogins(target, { database: db.name, slug: 'locked', mode: 'locked', seconds, warmup: 100, addressPerAccount: true })
      const lockedOneAddress = await measureLogins(target, { database: db.name, slug: 'locked', mode: 'locked', seconds, warmup: 100 })
      const lockedRun = locked.run
      const [lockedCpuMs, lockedPgMs] = [locked.serviceCpuMs, locked.pgCpuMs]
      ctx.log(`  locked path:   ${fmt(lockedRun.rate)} logins/s, p50 ${fmt(lockedRun.latency.p50)} ms (CPU per login: service ${fmt(lockedCpuMs)} ms, PostgreSQL ${fmt(lockedPgMs)} ms)`)
      ctx.log(`  locked path, every login from one address: ${fmt(lockedOneAddress.run.rate)} logins/s (CPU per login: service ${fmt(lockedOneAddress.serviceCpuMs)} ms, PostgreSQL ${fmt(lockedOneAddress.pgCpuMs)} ms)`)

      const baseRate = base.rate
      const baseCpu = base.cpuMsPerOp
      // What a login costs beyond the same HTTP stack doing only the verify, in CPU (service process and its
      // PostgreSQL backends against the bare server's process), which a busy machine distorts far less than rates.
      const honoOverhead = ((loginCpuMs + loginPgMs - honoCpuMs) / honoCpuMs) * 100
      const honoRateOverhead = (hono.run.rate / http.rate - 1) * 100
      // The earlier baseline, kept beside it: a bare verification loop without any HTTP server.
      const cpuOverhead = ((loginCpuMs + loginPgMs - baseCpu) / baseCpu) * 100
      const overhead = (baseRate / http.rate - 1) * 100
      /** A login phase's row: its rate and latencies, its rate against the bare Hono server's, its CPU per login. */
      const row = (label: string, p: LoginPhase) =>
        [label, p.run.rate, p.run.latency.p50, p.run.latency.p99, `${(p.run.rate / hono.run.rate).toFixed(2)}×`, p.serviceCpuMs, p.pgCpuMs]
      const loginsWritten = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${open.id}`
      return {
        tables: [
          {
            title: `${http.ops.toLocaleString('en-US')} logins in ${seconds} s (each account from an address of its own), the bare Hono server for as long, then as many bare verifications as logins; ${LOGIN_CONCURRENCY} in flight; latency in ms`,
            columns: ['path', 'per second', 'p50', 'p99', 'vs bare Hono', 'CPU ms/op: Node process', 'PostgreSQL'],
            rows: [
              ['bare Hono server, argon2id verify only (baseline)', hono.run.rate, hono.run.latency.p50, hono.run.latency.p99, '1.00×', honoCpuMs, '–'],
              row('HTTP login (argon2id + audit)', login),
              ['bare argon2id verify, no HTTP', baseRate, base.latency.p50, base.latency.p99, `${(baseRate / hono.run.rate).toFixed(2)}×`, baseCpu, '–'],
              row('HTTP login, locked account (no hashing)', locked),
              row("the same, every login from one address (a sprayer's shape)", lockedOneAddress),
            ],
          },
        ],
        figures: [
          {
            name: 'audit overhead on an argon2id login, CPU per login',
            value: loginCpuMs + loginPgMs,
            unit: 'ms CPU/login',
            baseline: { name: 'bare Hono server doing only the verify, ms CPU per login', value: honoCpuMs },
            ratio: honoOverhead,
            ratioMeaning: 'overhead',
            ratioUnit: '%',
            target: { text: '≤ 10 %', met: honoOverhead <= 10 },
          },
          {
            name: 'argon2id logins/s',
            value: http.rate,
            unit: 'logins/s',
            baseline: { name: 'bare Hono server doing only the verify, logins/s', value: hono.run.rate },
            ratio: honoRateOverhead,
            ratioMeaning: 'overhead',
            ratioUnit: '%',
          },
          {
            name: 'audit overhead counted against a bare verification loop (no HTTP)',
            value: loginCpuMs + loginPgMs,
            unit: 'ms CPU/login',
            baseline: { name: 'ms CPU per bare argon2id verification', value: baseCpu },
            ratio: cpuOverhead,
            ratioMeaning: 'overhead',
            ratioUnit: '%',
          },
          {
            name: 'locked-account logins (no hashing)',
            value: lockedRun.rate,
            unit: 'logins/s',
            baseline: { name: 'argon2id logins/s', value: http.rate },
            ratio: lockedRun.rate / http.rate,
          },
        ],
        notes: [
          'The service is the production entrypoint (src/runtime/node.ts, AUTHTRAIL_ENV=production, argon2id m=19456 KiB t=2 p=1, relay off) in its own process; requests come over keep-alive HTTP/1.1 from a minimal client in the benchmark process, alternating right (200) and wrong (401) passwords over 499 accounts whose lockout threshold is raised so that none locks. Every answer is checked.',
          'The baseline is a bare Hono server on the same HTTP stack (Hono on @hono/node-server, the same header limit; bench/support/bare-hono-login.ts) in its own Node process, whose login route only parses the JSON body and verifies argon2id through the production hasher, driven by the same client with the same requests, concurrency and duration. The earlier baseline, the same number of verifications in a Node process without any HTTP server, is kept in the table (its difference to the bare server is the HTTP stack itself).',
          `Overhead in CPU = (service process CPU + its PostgreSQL backends' CPU per login − the bare server's CPU per login) ÷ the latter; CPU comes from /proc (all threads, argon2id included) and is less distorted by other load on the machine than rates are. Overhead in rate = bare server logins/s ÷ service logins/s − 1. ${loginsWritten[0]!.n.toLocaleString('en-US')} audit rows were written.`,
          'Locked path: accounts locked for a day answer 423 without hashing; its CPU per login shows that no argon2id ran (a verification alone costs ~7 ms of CPU).',
        ],
        details: { bareHono: hono.run, honoCpuMs, baseline: base, http, locked: lockedRun, loginCpuMs, loginPgMs, lockedCpuMs, lockedPgMs, baseCpu },
      }
    } catch (error) {
      // What the service said about it (it logs every failed request with its cause).
      if (service) ctx.log(`  service output (last 2,000 characters):\n${(service.stdout() + service.stderr()).slice(-2000)}`)
      throw error
    } finally {
      await service?.stop()
      await db.drop()
    }
  },
}
