// Parallel logins against the service started as `npm start` starts it (default PASSWORD_HASH_CONCURRENCY
// and PASSWORD_HASH_QUEUE unless set in the environment), over real HTTP, of USERS distinct accounts
// (default 300, so that they spread over the tenant's chains as real users do), each from its own address:
// answer times (p50, p95, max) by status, how many were refused 503, and that each refusal was audited
// with reason `overloaded`.
//   SCENARIO=correct (default): PARALLEL (300) correct-password logins at once.
//   SCENARIO=locked: every account locked for an hour; BURSTS (2) bursts of PARALLEL logins, one after
//     the other: a locked account must be answered 423 without a hashing place, never refused as overloaded.
// Run: nice -n 10 node --import tsx bench/overload-logins.ts
import { createTestDatabase } from '../test/support/database.ts'
import { freePort, spawnService } from '../test/support/spawn-service.ts'
import { seedTenant, TEST_JWT_SIGNING_KEY } from '../test/support/test-app.ts'

const SCENARIO = process.env.SCENARIO ?? 'correct'
if (SCENARIO !== 'correct' && SCENARIO !== 'locked') throw new Error(`SCENARIO must be correct or locked, not ${SCENARIO}`)
const PARALLEL = Number(process.env.PARALLEL ?? 300)
const USERS = Number(process.env.USERS ?? 300)
const BURSTS = SCENARIO === 'locked' ? Number(process.env.BURSTS ?? 2) : 1
const db = await createTestDatabase('bench_overload', { max: 2 })
const seeded = await seedTenant(db.sql, { slug: 'overload', users: Array.from({ length: USERS }, (_, i) => ({ identifier: `user-${i}@overload.test`, password: 'correct horse battery staple' })) })
if (SCENARIO === 'locked') {
  // Locked as the lockout policy would have left them after a guessing campaign.
  await db.sql`
    INSERT INTO account_lockouts (tenant_id, identifier, user_id, failed_login_attempts, window_started_at, last_failed_at, account_locked_until, lockout_count, last_locked_at)
    SELECT tenant_id, identifier, id, 5, now(), now(), now() + interval '1 hour', 1, now() FROM users WHERE tenant_id = ${seeded.tenant.id}`
}
const port = await freePort()
const hashing = Object.fromEntries(['PASSWORD_HASH_CONCURRENCY', 'PASSWORD_HASH_QUEUE'].filter((k) => process.env[k]).map((k) => [k, process.env[k]!]))
const service = spawnService('node', { AUTHTRAIL_ENV: 'test', DATABASE_URL: db.url, JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY, RELAY_ENABLED: 'false', HOST: '127.0.0.1', PORT: String(port), TRUSTED_PROXIES: '1', ...hashing })
try {
  const base = `http://127.0.0.1:${port}`
  await service.waitForHealthy(base, 120_000)
  const login = async (i: number) => {
    const user = seeded.users[`user-${i % USERS}@overload.test`]!
    const started = performance.now()
    try {
      const res = await fetch(`${base}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.${(i >> 8) & 255}.${i & 255}` },
        body: JSON.stringify({ tenant: 'overload', identifier: user.identifier, password: user.password }),
      })
      await res.arrayBuffer()
      return { status: res.status, ms: performance.now() - started, retryAfter: res.headers.get('retry-after') }
    } catch {
      // No answer (a kept-alive connection closed under the client, typically): counted as status 0, not retried.
      return { status: 0, ms: performance.now() - started, retryAfter: null }
    }
  }
  await login(0) // warm-up
  const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!
  const bursts = []
  for (let burst = 0; burst < BURSTS; burst++) {
    const answers = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => login(burst * PARALLEL + i + 1)))
    const by = (status: number) => answers.filter((a) => a.status === status)
    const statuses = [...new Set(answers.map((a) => a.status))].sort()
    bursts.push({
      statuses: Object.fromEntries(statuses.map((s) => [s, by(s).length])),
      all_ms: { p50: Math.round(pct(answers.map((a) => a.ms), 50)), p95: Math.round(pct(answers.map((a) => a.ms), 95)), max: Math.round(Math.max(...answers.map((a) => a.ms))) },
      ms_by_status: Object.fromEntries(statuses.map((s) => [s, { p50: Math.round(pct(by(s).map((a) => a.ms), 50)), p95: Math.round(pct(by(s).map((a) => a.ms), 95)) }])),
      retry_after_503: [...new Set(by(503).map((a) => a.retryAfter))],
    })
  }
  const [audited] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} AND reason = 'overloaded'`
  const summary = {
    scenario: SCENARIO,
    parallel: PARALLEL,
    users: USERS,
    hashing: { concurrency: hashing.PASSWORD_HASH_CONCURRENCY ?? 'default (4)', queue: hashing.PASSWORD_HASH_QUEUE ?? 'default (64)' },
    bursts,
    refusals_audited_overloaded: audited!.n,
  }
  console.log(JSON.stringify(summary, null, 2))
} finally {
  await service.stop()
  await db.drop()
}
