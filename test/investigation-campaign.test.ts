import { beforeAll, describe, expect, it } from 'vitest'
import { HOUR_MS, planWindow } from '../src/core/rollup-buckets.ts'
import { foldIncidentRollups } from '../src/investigation/fold-incident-rollups.ts'
import { buildIncidentReport, type IncidentReport } from '../src/investigation/incident-report.ts'
import type { LockoutDiagnostics } from '../src/investigation/lockout-diagnostics.ts'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, getWith, postJson, postWith, useSeededTenant, useTestApp, type SeededTenant } from './support/test-app.ts'

/**
 * THE campaign: a brute-force campaign replayed through the real login endpoints (web and mobile, the
 * attacker addresses set by X-Forwarded-For behind the trusted proxy), then reconstructed by the incident
 * report. What the report must say is derived from what the attackers saw (each response's status), not
 * written down by hand.
 */

// Five failures in 15 minutes lock for 60 s, then 120 s: short enough to let the clock pass a lockout.
const POLICY = { maxFailures: 5, windowSeconds: 900, baseLockSeconds: 60, multiplier: 2, maxLockSeconds: 3600 }
const T0 = new Date(Math.floor((Date.now() - 3 * 3_600_000) / 60_000) * 60_000)
const WINDOW = { from: T0, to: new Date(T0.getTime() + 3_600_000) }

const SPRAYERS = ['203.0.113.10', '203.0.113.11']
const BOTNET = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6']
const GUESSER = '203.0.113.50'
const ACME_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((u) => `${u}@acme.test`)
const SPRAY_TARGETS = ['alice', 'bob', 'carol', 'dave', 'frank', 'ghost1', 'ghost2'].map((u) => `${u}@acme.test`)

interface Attempt {
  tenant: 'acme' | 'globex'
  identifier: string
  ip: string
  channel: 'web' | 'mobile'
  userAgent: string
  password: string
  deviceId?: string
  status?: number
  at?: Date
}

const db = useTestDatabase('campaign')
const t = useTestApp(db)
const acme = useSeededTenant(db, {
  slug: 'acme',
  lockoutPolicy: POLICY,
  users: [...ACME_USERS.map((identifier) => ({ identifier })), { identifier: 'admin@acme.test', role: 'admin' as const }],
})
const globex = useSeededTenant(db, {
  slug: 'globex',
  lockoutPolicy: POLICY,
  users: [{ identifier: 'alice@acme.test' }, { identifier: 'admin@globex.test', role: 'admin' as const }],
})
let adminAuth: string
const attempts: Attempt[] = []

async function attempt(a: Attempt): Promise<number> {
  t.clock.advance(1000)
  const path = a.channel === 'web' ? '/v1/auth/login' : '/v1/mobile/auth/login'
  const body = { tenant: a.tenant, identifier: a.identifier, password: a.password, ...(a.channel === 'mobile' && { device_id: a.deviceId ?? 'device' }) }
  const res = await postJson(t.app, path, body, { 'x-forwarded-for': a.ip, 'user-agent': a.userAgent })
  attempts.push({ ...a, status: res.status, at: t.clock.now! })
  return res.status
}

const passwordOf = (seeded: SeededTenant, identifier: string) => seeded.users[identifier]!.password

async function botnetRound(): Promise<number[]> {
  const statuses: number[] = []
  for (const [i, ip] of BOTNET.entries()) {
    statuses.push(
      await attempt({
        tenant: 'acme',
        identifier: 'erin@acme.test',
        ip,
        channel: i < 3 ? 'web' : 'mobile',
        deviceId: `bot-${i + 1}`,
        userAgent: `botnet-agent/${i + 1}`,
        password: `guess-${i + 1}-${statuses.length}`,
      }),
    )
  }
  return statuses
}

beforeAll(async () => {
  adminAuth = await bearerFor(t.tokens, acme, 'admin@acme.test')

  // Before the window: one failure that must not be counted.
  t.clock.now = new Date(T0.getTime() - 20 * 60_000)
  await attempt({ tenant: 'acme', identifier: 'frank@acme.test', ip: '198.51.100.99', channel: 'web', userAgent: 'Mozilla/5.0 (frank)', password: 'typo' })
  t.clock.now = new Date(T0)

  // Ordinary traffic: three logins and a typo followed by a success (one failure: not suspicious).
  expect(await attempt({ tenant: 'acme', identifier: 'alice@acme.test', ip: '198.51.100.1', channel: 'web', userAgent: 'Mozilla/5.0 (alice)', password: passwordOf(acme, 'alice@acme.test') })).toBe(200)
  expect(await attempt({ tenant: 'acme', identifier: 'bob@acme.test', ip: '198.51.100.2', channel: 'mobile', userAgent: 'AcmeApp/3.1 iOS', deviceId: 'ios-bob', password: passwordOf(acme, 'bob@acme.test') })).toBe(200)
  expect(await attempt({ tenant: 'acme', identifier: 'carol@acme.test', ip: '198.51.100.3', channel: 'web', userAgent: 'Mozilla/5.0 (carol)', password: passwordOf(acme, 'carol@acme.test') })).toBe(200)
  expect(await attempt({ tenant: 'acme', identifier: 'dave@acme.test', ip: '198.51.100.4', channel: 'web', userAgent: 'Mozilla/5.0 (dave)', password: 'Dave-typo' })).toBe(401)
  expect(await attempt({ tenant: 'acme', identifier: 'dave@acme.test', ip: '198.51.100.4', channel: 'web', userAgent: 'Mozilla/5.0 (dave)', password: passwordOf(acme, 'dave@acme.test') })).toBe(200)

  // Password spraying: two addresses, one password each, across every account (and two that do not exist).
  for (const [i, ip] of SPRAYERS.entries()) {
    for (const identifier of SPRAY_TARGETS) {
      expect(await attempt({ tenant: 'acme', identifier, ip, channel: 'web', userAgent: 'python-requests/2.31', password: i === 0 ? 'Winter2026!' : 'Spring2026!' })).toBe(401)
    }
  }
  // The same sprayer against another tenant at the same time: never part of acme's report.
  for (const identifier of ['alice@acme.test', 'nobody@globex.test', 'admin@globex.test']) {
    await attempt({ tenant: 'globex', identifier, ip: SPRAYERS[0]!, channel: 'web', userAgent: 'python-requests/2.31', password: 'Winter2026!' })
  }

  // A distributed brute force on erin from six addresses: locked at the fifth failure, attempts go on
  // while locked; after the lockout lapses, a second wave locks her again (twice as long).
  expect(await botnetRound()).toEqual([401, 401, 401, 401, 423, 423])
  t.clock.advance((POLICY.baseLockSeconds + 1) * 1000)
  expect(await botnetRound()).toEqual([401, 401, 401, 401, 423, 423])

  // A guesser gets frank's password after two failures of its own (four on frank in all, with the spray).
  expect(await attempt({ tenant: 'acme', identifier: 'frank@acme.test', ip: GUESSER, channel: 'web', userAgent: 'curl/8.5.0', password: 'frank2025' })).toBe(401)
  expect(await attempt({ tenant: 'acme', identifier: 'frank@acme.test', ip: GUESSER, channel: 'web', userAgent: 'curl/8.5.0', password: 'Frank2026!' })).toBe(401)
  expect(await attempt({ tenant: 'acme', identifier: 'frank@acme.test', ip: GUESSER, channel: 'web', userAgent: 'curl/8.5.0', password: passwordOf(acme, 'frank@acme.test') })).toBe(200)

  // The help desk unlocks erin.
  t.clock.advance(1000)
  const unlock = await postWith(t.app, '/v1/admin/lockouts/erin%40acme.test/unlock', adminAuth, { 'x-forwarded-for': '10.0.0.5' })
  expect(unlock.status).toBe(200)
})

/** What the attackers and users saw, reduced to what the report must say. */
function expectations() {
  const inWindow = attempts.filter((a) => a.tenant === 'acme' && a.at! >= WINDOW.from && a.at! < WINDOW.to)
  const failures = inWindow.filter((a) => a.status !== 200)
  const successes = inWindow.filter((a) => a.status === 200)
  // A lockout is the first 423 after a non-423 answer on the same account.
  const lockingAttempts = inWindow.filter((a, i) => a.status === 423 && inWindow.slice(0, i).filter((b) => b.identifier === a.identifier).at(-1)?.status !== 423)
  const byIdentifier = [...new Set(failures.map((a) => a.identifier))].map((identifier) => {
    const mine = failures.filter((a) => a.identifier === identifier)
    return {
      identifier,
      user_id: acme.users[identifier]?.id ?? null,
      failures: mine.length,
      distinct_ips: new Set(mine.map((a) => a.ip)).size,
      lockouts: lockingAttempts.filter((a) => a.identifier === identifier).length,
      successes: successes.filter((a) => a.identifier === identifier).length,
    }
  })
  byIdentifier.sort((a, b) => b.failures - a.failures || b.distinct_ips - a.distinct_ips || a.identifier.localeCompare(b.identifier))
  const byIp = [...new Set(failures.map((a) => a.ip))].map((ip) => {
    const mine = failures.filter((a) => a.ip === ip)
    return {
      ip,
      failures: mine.length,
      successes: successes.filter((a) => a.ip === ip).length,
      distinct_accounts: new Set(mine.map((a) => a.identifier)).size,
      lockouts_triggered: lockingAttempts.filter((a) => a.ip === ip).length,
    }
  })
  byIp.sort((a, b) => b.failures - a.failures || b.distinct_accounts - a.distinct_accounts || (a.ip < b.ip ? -1 : 1))
  return { inWindow, failures, successes, lockingAttempts, byIdentifier, byIp }
}

async function report(query: Record<string, string | number> = {}): Promise<IncidentReport> {
  const params = new URLSearchParams({
    from: WINDOW.from.toISOString(),
    to: WINDOW.to.toISOString(),
    min_failures: '3',
    spray_min_accounts: '3',
    distributed_min_ips: '4',
    ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])),
  })
  const res = await getWith(t.app, `/v1/investigation/incident-report?${params}`, adminAuth)
  expect(res.status).toBe(200)
  return (await res.json()) as IncidentReport
}

describe('incident report of a replayed brute-force campaign', () => {
  it('ranks exactly the targeted accounts by failures, with distinct IPs, lockouts and successes', async () => {
    const r = await report()
    const { byIdentifier } = expectations()
    expect(r.targeted_accounts.map(({ first_failure_at: _f, last_failure_at: _l, ...rest }) => rest)).toEqual(byIdentifier)
    expect(r.targeted_accounts[0]).toMatchObject({ identifier: 'erin@acme.test', failures: 12, distinct_ips: 6, lockouts: 2 })
    // Frank's failure before the window is not counted: two sprays and two guesses.
    expect(r.targeted_accounts.find((a) => a.identifier === 'frank@acme.test')).toMatchObject({ failures: 4, distinct_ips: 3, successes: 1 })
    expect(r.targeted_accounts.find((a) => a.identifier === 'ghost1@acme.test')).toMatchObject({ user_id: null, failures: 2 })
  })

  it('ranks exactly the source IPs, naming the sprayers and the distributed attack', async () => {
    const r = await report()
    const { byIp } = expectations()
    expect(r.source_ips.map(({ first_seen_at: _f, last_seen_at: _l, ...rest }) => rest)).toEqual(byIp)
    expect(r.password_spraying.map((s) => [s.ip, s.distinct_accounts])).toEqual([
      ['203.0.113.10', 7],
      ['203.0.113.11', 7],
    ])
    expect(r.distributed_attacks.map((a) => [a.identifier, a.distinct_ips])).toEqual([['erin@acme.test', 6]])
    expect(r.source_ips.find((s) => s.ip === '192.0.2.5')).toMatchObject({ lockouts_triggered: 2 })
  })

  it('gives the lockout timeline, the admin unlock with its actor included', async () => {
    const r = await report()
    const { lockingAttempts } = expectations()
    expect(r.lockout_timeline.map((e) => [e.event_type, e.identifier, e.reason, e.ip, e.lockout_count])).toEqual([
      ['account_locked', 'erin@acme.test', 'too_many_failures', '192.0.2.5', 1],
      ['lockout_reset', 'erin@acme.test', 'lockout_expired', '192.0.2.1', 1],
      ['account_locked', 'erin@acme.test', 'too_many_failures', '192.0.2.5', 2],
      ['lockout_reset', 'erin@acme.test', 'admin_unlock', '10.0.0.5', 2],
    ])
    expect(r.lockout_timeline.filter((e) => e.event_type === 'account_locked').map((e) => e.occurred_at)).toEqual(lockingAttempts.map((a) => a.at!.toISOString()))
    const unlock = r.lockout_timeline[3]!
    expect(unlock).toMatchObject({ actor_id: acme.users['admin@acme.test']!.id, channel: 'admin' })
  })

  it('names exactly the suspicious success and the failures that preceded it', async () => {
    const r = await report()
    const frankFailures = expectations().failures.filter((a) => a.identifier === 'frank@acme.test')
    const frankSuccess = expectations().successes.find((a) => a.identifier === 'frank@acme.test')!
    expect(r.suspicious_successes).toHaveLength(1)
    const [s] = r.suspicious_successes
    expect(s).toMatchObject({
      identifier: 'frank@acme.test',
      user_id: acme.users['frank@acme.test']!.id,
      ip: GUESSER,
      user_agent: 'curl/8.5.0',
      occurred_at: frankSuccess.at!.toISOString(),
      preceding_failures: 4,
      failures_truncated: false,
      failure_ips: ['203.0.113.10', '203.0.113.11', GUESSER],
      ip_seen_in_failures: true,
    })
    expect(s!.failures.map((f) => [f.ip, f.user_agent, f.occurred_at])).toEqual(frankFailures.map((a) => [a.ip, a.userAgent, a.at!.toISOString()]))
    // With a lower threshold dave's typo-then-success counts too; alice's success came before her failures.
    const lenient = await report({ min_failures: 1 })
    expect(lenient.suspicious_successes.map((x) => [x.identifier, x.preceding_failures])).toEqual([
      ['dave@acme.test', 1],
      ['frank@acme.test', 4],
    ])
  })

  it('adds up the totals and leaves the other tenant out', async () => {
    const r = await report()
    const e = expectations()
    expect(r.totals).toEqual({
      login_attempts: e.inWindow.length,
      failures: e.failures.length,
      successes: e.successes.length,
      lockouts: 2,
      targeted_accounts: e.byIdentifier.length,
      source_ips: e.byIp.length,
      suspicious_successes: 1,
    })
    expect(JSON.stringify(r)).not.toContain('globex')
    const globexAdmin = await bearerFor(t.tokens, globex, 'admin@globex.test')
    const params = new URLSearchParams({ from: WINDOW.from.toISOString(), to: WINDOW.to.toISOString() })
    const theirs = (await (await getWith(t.app, `/v1/investigation/incident-report?${params}`, globexAdmin)).json()) as IncidentReport
    expect(theirs.totals).toMatchObject({ failures: 3, targeted_accounts: 3, source_ips: 1, lockouts: 0 })
    expect(theirs.source_ips.map((s) => s.ip)).toEqual([SPRAYERS[0]])
  })

  it('explains each of erin\'s lockouts by the failures that triggered it', async () => {
    const res = await getWith(t.app, '/v1/investigation/lockouts/erin%40acme.test/diagnostics', adminAuth)
    expect(res.status).toBe(200)
    const body = (await res.json()) as LockoutDiagnostics
    const erin = expectations().failures.filter((a) => a.identifier === 'erin@acme.test')
    const [second, first] = body.lockouts
    expect(body.lockouts).toHaveLength(2)
    for (const [lock, wave] of [
      [first!, erin.slice(0, 5)],
      [second!, erin.slice(6, 11)],
    ] as const) {
      expect(lock.failed_attempts).toBe(5)
      expect(lock.triggering_failures.map((f) => [f.ip, f.user_agent, f.channel, f.occurred_at, f.failed_attempts])).toEqual(
        wave.map((a, i) => [a.ip, a.userAgent, a.channel, a.at!.toISOString(), i + 1]),
      )
      expect(lock.distinct_ips).toEqual(BOTNET.slice(0, 5))
      expect(lock.attempts_while_locked).toBe(1)
    }
    expect(first!.lockout_count).toBe(1)
    expect(first!.ended_by).toMatchObject({ reason: 'lockout_expired', actor_id: null })
    expect(second!.lockout_count).toBe(2)
    expect(second!.lock_duration_seconds).toBe(120)
    expect(second!.ended_by).toMatchObject({ reason: 'admin_unlock', actor_id: acme.users['admin@acme.test']!.id, channel: 'admin' })
  })

  it('finds the botnet by CIDR in the events query, and the chain with the admin action still verifies', async () => {
    const res = await getWith(t.app, '/v1/investigation/events?ip=192.0.2.0/29&event_type=login_failed&order=oldest', adminAuth)
    const page = (await res.json()) as { events: { ip: string; identifier: string }[] }
    expect(page.events).toHaveLength(12)
    expect(new Set(page.events.map((e) => e.identifier))).toEqual(new Set(['erin@acme.test']))
    const verify = await getWith(t.app, '/v1/audit/verify', adminAuth)
    const result = (await verify.json()) as { ok: boolean; verified_events: number }
    expect(result.ok).toBe(true)
    const expectedEvents = attempts.filter((a) => a.tenant === 'acme').length + 2 /* locks */ + 1 /* expiry reset */ + 1 /* unlock */ + 2 /* dave's and frank's successes reset their failure counts */
    expect(result.verified_events).toBe(expectedEvents)
  })
})

describe('the campaign from the incident rollups', () => {
  it('answers exactly like the full scan once its hours are folded, for partial, aligned and wider windows', async () => {
    const folded = await foldIncidentRollups(db.sql, { lagSeconds: 60 })
    expect(folded.hours).toBeGreaterThan(0)
    const hourOf = (d: Date) => Math.floor(d.getTime() / HOUR_MS) * HOUR_MS
    const firstHour = hourOf(new Date(T0.getTime() - 20 * 60_000))
    const windows = [
      WINDOW,
      { from: new Date(firstHour), to: new Date(firstHour + 2 * HOUR_MS) },
      { from: new Date(firstHour - HOUR_MS), to: new Date(hourOf(new Date()) + HOUR_MS) },
      { from: new Date(firstHour + 1), to: new Date(firstHour + 2 * HOUR_MS - 1) },
    ]
    const [range] = await db.sql<{ valid_from: Date; folded_until: Date }[]>`
      SELECT valid_from, folded_until FROM incident_rollup_watermarks WHERE tenant_id = ${acme.tenant.id}`
    expect(planWindow(windows[2]!.from, windows[2]!.to, { validFrom: range!.valid_from, foldedUntil: range!.folded_until }).buckets.length).toBeGreaterThan(0)
    for (const window of windows) {
      for (const minFailures of [1, 3]) {
        for (const scope of [{ tenantId: acme.tenant.id, organisationId: null }, { tenantId: acme.tenant.id, organisationId: acme.organisationId }]) {
          const o = { ...window, minFailures, sprayMinAccounts: 3, distributedMinIps: 4, limit: 3 }
          const rolled = await buildIncidentReport(db.sql, scope, { ...o, source: 'rollups' })
          const scanned = await buildIncidentReport(db.sql, scope, { ...o, source: 'events' })
          expect(JSON.stringify(rolled)).toBe(JSON.stringify(scanned))
          expect(rolled.totals.failures).toBeGreaterThan(0)
        }
      }
    }
    // Through the API (which reads the rollups) the report is still the one derived from the campaign.
    const r = await report()
    expect(r.suspicious_successes.map((s) => s.identifier)).toEqual(['frank@acme.test'])
    expect(r.targeted_accounts.map((a) => a.identifier)).toEqual(expectations().byIdentifier.slice(0, r.targeted_accounts.length).map((a) => a.identifier))
  })
})
