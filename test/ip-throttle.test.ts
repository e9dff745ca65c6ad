import { describe, expect, it } from 'vitest'
import { useTestDatabase } from './support/database.ts'
import { countingHasher } from './support/counting-hasher.ts'
import type { IncidentReport } from '../src/investigation/incident-report.ts'
import { createServiceMetrics } from '../src/metrics/service-metrics.ts'
import { bearerFor, getWith, postJson, TEST_HASHER, useSeededTenant, useTestApp } from './support/test-app.ts'

// Enough connections for 200 attempts to really contend for one address's throttle row.
const db = useTestDatabase('defence_throttle', { max: 20 })
const hasher = countingHasher(TEST_HASHER)
const t = useTestApp(db, (db) => ({ hasher, metrics: createServiceMetrics({ sql: db.sql, defaultMetrics: false }) }))

const accounts = Array.from({ length: 50 }, (_, i) => ({ identifier: `user${i}@acme.test` }))
// No lockout gets in the way: 200 attempts over 50 accounts is 4 per account.
const lockoutPolicy = { maxFailures: 10, windowSeconds: 900, baseLockSeconds: 60, multiplier: 2, maxLockSeconds: 600 }
const budget = useSeededTenant(db, {
  slug: 'budget',
  lockoutPolicy,
  // Spraying detection out of the way: only the plain budget of 100.
  defencePolicy: { ip_failure_budget: 100, ip_window_seconds: 3600, spray_accounts: 10_000, spray_failure_budget: 100 },
  users: accounts,
})
const spray = useSeededTenant(db, {
  slug: 'spray',
  lockoutPolicy,
  defencePolicy: { ip_failure_budget: 100, spray_accounts: 10, spray_failure_budget: 20 },
  users: [...accounts, { identifier: 'admin@acme.test', role: 'admin' as const }],
})
const small = useSeededTenant(db, {
  slug: 'small',
  lockoutPolicy,
  defencePolicy: { ip_failure_budget: 10, spray_failure_budget: 10, allow_list: ['198.51.100.0/24', '2001:db8:cafe::/48'] },
  users: [{ identifier: 'alice@small.test' }],
})

const attempt = (tenant: string, identifier: string, ip: string, password = 'wrong password') =>
  postJson(t.app, '/v1/auth/login', { tenant, identifier, password }, { 'x-forwarded-for': ip })

async function eventsFrom(tenantId: string, network: string) {
  const rows = await db.sql<{ event_type: string; reason: string | null; n: number }[]>`
    SELECT event_type, reason, count(*)::int AS n FROM auth_logs
    WHERE tenant_id = ${tenantId} AND ip_inet <<= ${network}::inet GROUP BY 1, 2 ORDER BY 1, 2`
  return Object.fromEntries(rows.map((r) => [`${r.event_type}:${r.reason}`, r.n]))
}

/** The network's failed accounts are exactly the accounts it failed against, each with its network's row. */
async function expectFailedAccountsOf(tenantId: string, network: string) {
  const [row] = await db.sql<{ failed: string[]; recorded: string[]; orphans: number }[]>`
    SELECT (SELECT coalesce(array_agg(identifier ORDER BY identifier), '{}') FROM ip_failed_accounts WHERE tenant_id = ${tenantId} AND network = ${network}) AS failed,
           (SELECT coalesce(array_agg(DISTINCT identifier ORDER BY identifier), '{}') FROM auth_logs
            WHERE tenant_id = ${tenantId} AND ip_inet <<= ${network}::inet AND event_type = 'login_failed' AND reason = 'invalid_credentials') AS recorded,
           (SELECT count(*)::int FROM ip_failed_accounts a WHERE a.tenant_id = ${tenantId}
              AND NOT EXISTS (SELECT 1 FROM ip_throttles t WHERE t.tenant_id = a.tenant_id AND t.network = a.network)) AS orphans`
  expect(row!.failed.length).toBeGreaterThan(0)
  expect(row).toEqual({ failed: row!.recorded, recorded: row!.recorded, orphans: 0 })
}

function statusCounts(responses: Response[]) {
  const counts: Record<number, number> = {}
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1
  return counts
}

describe('per-address failure budgets (ASVS V2.2.1)', () => {
  it('200 parallel attempts from one address over 50 accounts: exactly the budget checked, the rest 429 unhashed', async () => {
    // Time stands still: on a loaded machine the burst may take longer than one refill interval (36 s).
    t.clock.now = new Date()
    const before = hasher.verifications.length
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => attempt('budget', `user${i % 50}@acme.test`, '203.0.113.10')))
    expect(statusCounts(responses)).toEqual({ 401: 100, 429: 100 })
    // No more hashing than the budget allows, even though all 200 arrived at once.
    expect(hasher.verifications.length - before).toBe(100)
    for (const r of responses.filter((r) => r.status === 429)) {
      expect(r.headers.get('content-type')).toBe('application/problem+json')
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(36)
      expect((await r.json()).code).toBe('ip_throttled')
    }
    expect(await eventsFrom(budget.tenant.id, '203.0.113.10/32')).toEqual({
      'login_failed:invalid_credentials': 100,
      'login_failed:ip_throttled': 100,
      'ip_throttled:failure_budget': 1,
    })
    const [throttled] = await db.sql`SELECT metadata, identifier, ip FROM auth_logs WHERE tenant_id = ${budget.tenant.id} AND event_type = 'ip_throttled'`
    expect(throttled!.metadata).toMatchObject({ network: '203.0.113.10/32', failure_budget: 100, window_seconds: 3600 })
    // The distinct accounts failed against before the episode, the refused attempt's own included.
    expect(throttled!.metadata.failed_accounts).toBeGreaterThan(1)
    expect(throttled!.metadata.failed_accounts).toBeLessThanOrEqual(50)
    // Every event has its outbox row, in the same transaction; the throttled attempts touched no lockout.
    const [counts] = await db.sql<{ logs: number; outbox: number; lockout_failures: number }[]>`
      SELECT (SELECT count(*)::int FROM auth_logs WHERE tenant_id = ${budget.tenant.id}) AS logs,
             (SELECT count(*)::int FROM outbox WHERE tenant_id = ${budget.tenant.id}) AS outbox,
             (SELECT sum(failed_login_attempts)::int FROM account_lockouts WHERE tenant_id = ${budget.tenant.id}) AS lockout_failures`
    expect(counts).toEqual({ logs: 201, outbox: 201, lockout_failures: 100 })
    await expectFailedAccountsOf(budget.tenant.id, '203.0.113.10/32')
  }, 240_000) // 100 argon2id checks at OWASP parameters: under a minute on a quiet machine, several on a loaded one

  it('keeps one episode while the address keeps trying, and lets one failure through per refill interval', async () => {
    const res = await attempt('budget', 'user1@acme.test', '203.0.113.10', budget.users['user1@acme.test']!.password)
    // Throttled even with the right password: the address is refused before any check.
    expect(res.status).toBe(429)
    t.clock.advance(37_000)
    expect((await attempt('budget', 'user2@acme.test', '203.0.113.10')).status).toBe(401)
    expect((await attempt('budget', 'user3@acme.test', '203.0.113.10')).status).toBe(429)
    expect((await eventsFrom(budget.tenant.id, '203.0.113.10/32'))['ip_throttled:failure_budget']).toBe(1)
    // Another address is not affected.
    expect((await attempt('budget', 'user2@acme.test', '203.0.113.11')).status).toBe(401)
    // A full window later the budget has refilled: the episode is over, and a new one is recorded anew.
    t.clock.advance(3_700_000)
    expect((await attempt('budget', 'user4@acme.test', '203.0.113.10', budget.users['user4@acme.test']!.password)).status).toBe(200)
    const [row] = await db.sql`SELECT episode_started_at, episode_count FROM ip_throttles WHERE tenant_id = ${budget.tenant.id} AND network = '203.0.113.10/32'`
    expect(row).toEqual({ episode_started_at: null, episode_count: 1 })
    t.clock.now = null
  })

  it('a spraying address gets the tighter budget: 200 parallel attempts over 50 accounts, 20 checked', async () => {
    t.clock.now = new Date()
    const before = hasher.verifications.length
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => attempt('spray', `user${i % 50}@acme.test`, '192.0.2.66')))
    expect(statusCounts(responses)).toEqual({ 401: 20, 429: 180 })
    expect(hasher.verifications.length - before).toBe(20)
    const events = await eventsFrom(spray.tenant.id, '192.0.2.66/32')
    expect(events).toEqual({ 'login_failed:invalid_credentials': 20, 'login_failed:ip_throttled': 180, 'ip_throttled:spraying': 1 })
    await expectFailedAccountsOf(spray.tenant.id, '192.0.2.66/32')
    t.clock.now = null
  })

  it('the replayed campaign shows the spraying address throttled after its budget, in the report and the metrics', async () => {
    const params = new URLSearchParams({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString(), spray_min_accounts: '10' })
    const res = await getWith(t.app, `/v1/investigation/incident-report?${params}`, await bearerFor(t.tokens, spray, 'admin@acme.test'))
    expect(res.status).toBe(200)
    const report = (await res.json()) as IncidentReport
    expect(report.throttled_addresses).toEqual([
      { network: '192.0.2.66/32', episodes: 1, throttled_attempts: 180, reasons: ['spraying'], first_throttled_at: expect.any(String), last_throttled_at: expect.any(String) },
    ])
    expect(report.password_spraying.map((s) => s.ip)).toEqual(['192.0.2.66'])

    const text = await (await t.app.request('/metrics')).text()
    expect(text).toContain('authtrail_login_attempts_total{channel="web",outcome="throttled"} 282')
    // 100 + 2 refused from 203.0.113.10 and 180 from 192.0.2.66; one episode each.
    expect(text).toContain('authtrail_ip_throttles_total{channel="web"} 2')
    expect(text).toMatch(/authtrail_addresses_throttled [12]\n/)
  })

  it('counts an IPv6 attacker rotating addresses inside one /64 as one address', async () => {
    t.clock.now = new Date()
    const statuses: number[] = []
    for (let i = 1; i <= 15; i++) statuses.push((await attempt('small', `rotating${i}@small.test`, `2001:db8:bad:1::${i.toString(16)}:${i}`)).status)
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)])
    expect(await eventsFrom(small.tenant.id, '2001:db8:bad:1::/64')).toMatchObject({ 'login_failed:invalid_credentials': 10, 'ip_throttled:failure_budget': 1 })
    // The next /64 has its own budget.
    expect((await attempt('small', 'alice@small.test', '2001:db8:bad:2::1')).status).toBe(401)
    t.clock.now = null
  })

  it('never throttles an allow-listed network, IPv4 or IPv6', async () => {
    const v4 = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt('small', `nobody${i}@small.test`, `198.51.100.${i + 1}`)))
    expect(statusCounts(v4)).toEqual({ 401: 30 })
    const v6 = await Promise.all(Array.from({ length: 30 }, (_, i) => attempt('small', `nobody${i}@small.test`, `2001:db8:cafe:1::${i + 1}`)))
    expect(statusCounts(v6)).toEqual({ 401: 30 })
    const rows = await db.sql`SELECT network FROM ip_throttles WHERE tenant_id = ${small.tenant.id} AND (network LIKE '198.51.100.%' OR network LIKE '2001:db8:cafe:%')`
    expect(rows).toHaveLength(0)
  })

  it('budgets are per tenant', async () => {
    // 203.0.113.10 is throttled in `budget`, not in `small`.
    expect((await attempt('small', 'alice@small.test', '203.0.113.10')).status).toBe(401)
  })
})
