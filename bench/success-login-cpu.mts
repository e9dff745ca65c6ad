/**
 * CPU per successful login with sessions on, in-process: `attemptLogin` on one connection (so that its one
 * PostgreSQL backend's CPU can be read from /proc), a hasher that accepts without hashing, 50 accounts each
 * from its own address. For comparing two commits side by side: it imports the tree it is run from.
 *
 *   cd <tree> && N=1500 node --import tsx <this file>
 *
 * Prints one JSON line: client CPU, PostgreSQL CPU and wall time per login (ms). Linux only (/proc).
 */
import { resolve } from 'node:path'
import { processCpuSeconds } from './support/process-cpu.ts'

const tree = process.cwd()
const from = (path: string) => import(resolve(tree, path))
const { attemptLogin } = await from('src/auth/attempt-login.ts')
const { createSql } = await from('src/db/client.ts')
const { createBenchDatabase } = await from('bench/support/bench-database.ts')
const { seedTenant, testTokenService } = await from('test/support/test-app.ts')

const n = Number(process.env.N ?? 1500)
const db = await createBenchDatabase('success_login_cpu')
try {
  const users = Array.from({ length: 50 }, (_, i) => ({ identifier: `u${i}@example.test`, password: 'correct horse battery staple' }))
  const lockoutPolicy = { maxFailures: 1000, windowSeconds: 600, baseLockSeconds: 300, multiplier: 2, maxLockSeconds: 3600 }
  const seeded = await seedTenant(db.sql, { slug: 'success-login-cpu', lockoutPolicy, users })
  const sql = createSql(db.url, { max: 1 })
  const [{ pid }] = await sql`SELECT pg_backend_pid() AS pid`
  const accepting = { hash: async () => '', verify: async () => true }
  const deps = { sql, hasher: accepting, tokens: testTokenService(), clock: () => new Date(), dummyHash: '', tokenTtlSeconds: 3600, refreshTtlSeconds: 86_400 }
  const login = async (i: number) => {
    const origin = { ip: `10.0.${i % 50}.1`, userAgent: 'bench', deviceId: null, channel: 'web' }
    const result = await attemptLogin(deps, { tenant: seeded.tenant, identifier: users[i % 50]!.identifier, password: 'x', idempotencyKey: null, origin })
    if (result.kind !== 'success' || !result.opened) throw new Error(`expected a success with its session, got ${result.kind}`)
  }
  for (let i = 0; i < 300; i++) await login(i)
  const client = process.cpuUsage()
  const backend = processCpuSeconds(pid)
  const start = performance.now()
  for (let i = 0; i < n; i++) await login(i)
  const used = process.cpuUsage(client)
  const perLogin = (ms: number) => Number((ms / n).toFixed(3))
  console.log(JSON.stringify({ tree, logins: n, clientMs: perLogin((used.user + used.system) / 1000), postgresMs: perLogin((processCpuSeconds(pid) - backend) * 1000), wallMs: perLogin(performance.now() - start) }))
  await sql.end()
} finally {
  await db.drop()
}
