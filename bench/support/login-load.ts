import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Sql } from '../../src/db/client.ts'
import { createOrganisation, createTenant, type Tenant } from '../../src/db/tenants.ts'
import { startCpuMeter } from './cpu-meter.ts'
import { buildPost, HttpConnection } from './http-client.ts'
import { processCpuSeconds } from './process-cpu.ts'
import { runClosedLoop, runFixedCount, type ClosedLoopResult } from './stats.ts'

// HTTP login load shared by the login benchmarks (audit-overhead, wasm-argon2id): the accounts, the
// requests, the closed loop with every answer checked, and CPU per login from /proc.

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export const LOGIN_PASSWORD = 'correct horse battery staple 42'
/** Odd, so that alternating right/wrong passwords reach every account with both. */
export const LOGIN_ACCOUNTS = 499
/** Requests in flight: more than the libuv pool's 4 threads, so hashing never waits for the network. */
export const LOGIN_CONCURRENCY = 8

/**
 * A tenant of LOGIN_ACCOUNTS users sharing one password hash: `open` accounts can fail without ever locking
 * (the threshold is raised), `locked` ones are locked for a day; the address throttle's budgets are raised.
 */
export async function seedLoginTenant(sql: Sql, slug: string, phc: string, kind: 'open' | 'locked'): Promise<Tenant> {
  // The per-address throttle stays checked on every attempt, its budgets raised above what one benchmark
  // address fails in a run (every request comes from 127.0.0.1), so that it never refuses one.
  const defencePolicy = { ip_failure_budget: 100_000, spray_accounts: 10_000, spray_failure_budget: 100_000 }
  const tenant = await createTenant(sql, kind === 'open' ? { slug, lockoutPolicy: { maxFailures: 1000 }, defencePolicy } : { slug, defencePolicy })
  const org = await createOrganisation(sql, tenant.id, `${slug}-org`)
  await sql`
    INSERT INTO users (id, tenant_id, organisation_id, identifier, password_hash)
    SELECT gen_random_uuid(), ${tenant.id}, ${org.id}, 'user' || g || '@' || ${slug} || '.example', ${phc}
    FROM generate_series(0, ${LOGIN_ACCOUNTS - 1}::int) AS g`
  if (kind === 'open') {
    await sql`INSERT INTO account_lockouts (tenant_id, identifier, user_id) SELECT tenant_id, identifier, id FROM users WHERE tenant_id = ${tenant.id}`
  } else {
    await sql`
      INSERT INTO account_lockouts (tenant_id, identifier, user_id, failed_login_attempts, window_started_at, last_failed_at,
                                    account_locked_until, lockout_count, last_locked_at)
      SELECT tenant_id, identifier, id, 5, now(), now(), now() + interval '1 day', 1, now() FROM users WHERE tenant_id = ${tenant.id}`
  }
  return tenant
}

export interface LoginTarget {
  port: number
  /** The processes whose CPU counts as the service's (the Node process, or workerd). */
  pids(): number[]
}

export interface LoginPhase {
  run: ClosedLoopResult
  /** CPU ms per login of the service's processes (all threads: argon2id included). */
  serviceCpuMs: number
  /** CPU ms per login of the PostgreSQL backends serving the benchmark database. */
  pgCpuMs: number
}

/**
 * Logs in over keep-alive HTTP/1.1 for `seconds` after `warmup` unmeasured logins, LOGIN_CONCURRENCY in
 * flight, and checks every answer: `alternating` right (200) and wrong (401) passwords on an open tenant,
 * or `locked` (423, no hashing). Fresh connections per phase: servers close idle ones after a few seconds.
 */
export async function measureLogins(
  target: LoginTarget,
  options: {
    database: string
    slug: string
    mode: 'alternating' | 'locked'
    seconds: number
    warmup: number
    perRequestConnections?: boolean
    /**
     * Each account's logins from an address of its own (X-Forwarded-For, for a service trusting one proxy
     * hop), as real users log in; without it every login comes from 127.0.0.1, one address failing against
     * every account: a sprayer's shape, whose throttle row every failure updates.
     */
    addressPerAccount?: boolean
  },
): Promise<LoginPhase> {
  const { slug, mode } = options
  const address = (account: number): Record<string, string> => (options.addressPerAccount ? { 'X-Forwarded-For': `10.77.${account >> 8}.${account & 255}` } : {})
  const request = (account: number, right: boolean) =>
    buildPost('/v1/auth/login', { tenant: slug, identifier: `user${account}@${slug}.example`, password: right ? LOGIN_PASSWORD : 'wrong password guess' }, address(account))
  const requests = Array.from({ length: LOGIN_ACCOUNTS }, (_, a) => [request(a, false), request(a, true)] as const)
  const connections: HttpConnection[] = []
  try {
    for (let i = 0; i < LOGIN_CONCURRENCY; i++) connections.push(await HttpConnection.open(target.port))
    let next = 0
    const login = async (client: number) => {
      const i = next++
      const right = mode === 'locked' || i % 2 === 0
      const expected = mode === 'locked' ? 423 : right ? 200 : 401
      const answer = await connections[client]!.send(requests[i % LOGIN_ACCOUNTS]![right ? 1 : 0])
      if (answer.status !== expected) throw new Error(`login answered ${answer.status}, expected ${expected}: ${answer.body.slice(0, 200)}`)
    }
    await runFixedCount(LOGIN_CONCURRENCY, options.warmup, login) // JIT, pool connections, prepared statements
    const cpu = () => target.pids().reduce((sum, pid) => sum + processCpuSeconds(pid), 0)
    const cpu0 = cpu()
    // Short-lived backends (workerd opens one connection per request) are sampled often and counted from birth.
    const meter = startCpuMeter(options.database, {}, options.perRequestConnections ? { intervalMs: 10, countNewBackendsFromStart: true } : {})
    const run = await runClosedLoop(LOGIN_CONCURRENCY, options.seconds * 1000, login)
    const serviceCpuMs = ((cpu() - cpu0) * 1000) / run.ops
    const pgCpuMs = ((await meter.stop()).backends * 1000) / run.ops
    if (run.errors) throw new Error(`${run.errors} logins failed: ${run.firstError}`)
    return { run, serviceCpuMs, pgCpuMs }
  } finally {
    for (const c of connections) c.close()
  }
}

export type BareVerifyResult = ClosedLoopResult & { cpuMsPerOp: number }

/**
 * `count` bare verifications of `phc` (half right, half wrong) through the production hasher `hasher`,
 * LOGIN_CONCURRENCY at a time, in a fresh Node process with only PATH and HOME inherited, like the service.
 */
export function runBareVerifications(hasher: 'native' | 'wasm', phc: string, count: number, warmup: number): Promise<BareVerifyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/support/argon2-verify-loop.ts'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        BENCH_HASHER: hasher,
        BENCH_HASH: phc,
        BENCH_PASSWORD: LOGIN_PASSWORD,
        BENCH_COUNT: String(count),
        BENCH_CONCURRENCY: String(LOGIN_CONCURRENCY),
        BENCH_WARMUP: String(warmup),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`argon2id (${hasher}) baseline exited ${code}: ${err}`))
      const result = JSON.parse(out.trim().split('\n').pop()!) as BareVerifyResult
      if (result.errors) return reject(new Error(`argon2id (${hasher}) baseline: ${result.firstError}`))
      resolve(result)
    })
  })
}

/**
 * Starts the bare Hono login server (bare-hono-login.ts) as its own Node process with only PATH and HOME
 * inherited, like the service, and waits until it answers.
 */
export async function startBareLoginServer(phc: string, port: number): Promise<{ pid: number; port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/support/bare-hono-login.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', BENCH_HASH: phc },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + 60_000
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)
    if (up) break
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`bare login server did not start: ${err}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    pid: child.pid!,
    port,
    stop: async () => {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}
