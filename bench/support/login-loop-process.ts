/**
 * A login-attempt loop in a process of its own, driven by concurrent-rounds.ts: `clients` loops over a
 * pool of exactly `clients` connections, calling attemptLogin with the benchmark-only hasher. Its own
 * process, so that its CPU (from /proc) is this variant's alone while others run at the same time; it
 * reports its connections' backend pids, so that theirs is too.
 *
 *   node --import tsx bench/support/login-loop-process.ts '<LoginLoopSpec as JSON>'
 *
 * `root` (default: this checkout) names the checkout whose login code and database client run, so that
 * another version of the code can be measured beside this one (an A/B on the same machine at once).
 */
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { attemptLogin as AttemptLogin, LoginInput } from '../../src/auth/attempt-login.ts'
import type { createSql as CreateSql } from '../../src/db/client.ts'
import type { findTenantById as FindTenantById, Tenant } from '../../src/db/tenants.ts'
import { ACCOUNT_BASE, CAMPAIGN_ORIGIN, campaignDeps } from './campaign.ts'
import { runClosedLoop, type ClosedLoopResult } from './stats.ts'

export interface LoginLoopSpec {
  root?: string
  url: string
  tenantId: string
  accounts: number
  clients: number
  /**
   * Where attempts come from: the campaign's address, one of the 10,000 addresses of `range` (a /16 of the
   * benchmarking range 198.18.0.0/15) at random, or one address.
   */
  from: { kind: 'campaign' } | { kind: 'spread'; range: '198.18' | '198.19' } | { kind: 'address'; ip: string }
  /** The answer every attempt must get (a wrong password each time). */
  expected: string
}

export type LoopMessage =
  | { kind: 'ready'; backendPids: number[] }
  | { kind: 'measuring' }
  | { kind: 'done'; result: ClosedLoopResult }
  | { kind: 'failed'; error: string }

export type LoopCommand = { kind: 'run'; warmupMs: number; ms: number } | { kind: 'exit' }

/** 10,000 addresses of a /16, one per attempt at random: the usual case, no address contended. */
const spreadAddress = (range: string) => `${range}.${Math.floor(Math.random() * 40)}.${Math.floor(Math.random() * 250) + 1}`

async function main(spec: LoginLoopSpec) {
  const root = spec.root ? pathToFileURL(`${spec.root.replace(/\/$/, '')}/`).href : new URL('../../', import.meta.url).href
  const { attemptLogin } = (await import(`${root}src/auth/attempt-login.ts`)) as { attemptLogin: typeof AttemptLogin }
  const { createSql } = (await import(`${root}src/db/client.ts`)) as { createSql: typeof CreateSql }
  const { findTenantById } = (await import(`${root}src/db/tenants.ts`)) as { findTenantById: typeof FindTenantById }
  const sql = createSql(spec.url, { max: spec.clients })
  const tenant = (await findTenantById(sql, spec.tenantId)) as Tenant
  const deps = campaignDeps(sql)
  const from = spec.from
  const ipOf = () => (from.kind === 'spread' ? spreadAddress(from.range) : from.kind === 'address' ? from.ip : CAMPAIGN_ORIGIN.ip)
  const input = (): LoginInput => ({
    tenant,
    identifier: String(ACCOUNT_BASE + Math.floor(Math.random() * spec.accounts)),
    password: 'wrong-guess',
    origin: { ...CAMPAIGN_ORIGIN, ip: ipOf() },
    idempotencyKey: null,
  })
  const attempt = async () => {
    const result = await attemptLogin(deps, input())
    if (result.kind !== spec.expected) throw new Error(`unexpected login result ${result.kind}`)
  }
  // Every connection of the pool open (postgres.js keeps them), and its backend's pid known.
  const reserved = await Promise.all(Array.from({ length: spec.clients }, () => sql.reserve()))
  const backendPids = await Promise.all(reserved.map(async (c) => (await c<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid))
  for (const c of reserved) c.release()
  send({ kind: 'ready', backendPids })
  process.on('message', (command: LoopCommand) => {
    if (command.kind === 'exit') {
      void sql.end({ timeout: 5 }).then(() => process.exit(0))
      return
    }
    runClosedLoop(spec.clients, command.ms, attempt, { warmupMs: command.warmupMs, onMeasureStart: () => send({ kind: 'measuring' }) }).then(
      (result) => send({ kind: 'done', result }),
      (error: unknown) => send({ kind: 'failed', error: String(error) }),
    )
  })
}

function send(message: LoopMessage) {
  process.send!(message)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(JSON.parse(process.argv[2]!) as LoginLoopSpec).catch((error: unknown) => {
    send({ kind: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    process.exit(1)
  })
}
