import { describe, expect, it } from 'vitest'
import { useTestDatabase } from './support/database.ts'
import { countingHasher } from './support/counting-hasher.ts'
import { postJson, TEST_HASHER, useSeededTenant, useTestApp } from './support/test-app.ts'

// Enough connections for 50 attempts to really contend for the same lockout row.
const db = useTestDatabase('lockout', { max: 20 })
const hasher = countingHasher(TEST_HASHER)
const t = useTestApp(db, { hasher })
const acme = useSeededTenant(db, {
  slug: 'acme',
  lockoutPolicy: { maxFailures: 5, windowSeconds: 900, baseLockSeconds: 60, multiplier: 2, maxLockSeconds: 200 },
  users: [{ identifier: 'target@acme.test' }, { identifier: 'helpdesk@acme.test' }, { identifier: 'grow@acme.test' }],
})

const attempt = (identifier: string, password: string) => postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier, password })

async function countEvents(identifier: string) {
  const rows = await db.sql<{ event_type: string; reason: string | null; n: number }[]>`
    SELECT event_type, reason, count(*)::int AS n FROM auth_logs
    WHERE tenant_id = ${acme.tenant.id} AND identifier = ${identifier} GROUP BY 1, 2 ORDER BY 1, 2`
  return Object.fromEntries(rows.map((r) => [`${r.event_type}:${r.reason}`, r.n]))
}

describe('lockout (OWASP ASVS V2.8)', () => {
  it('50 parallel wrong passwords: 50 audited attempts, one account_locked, a counter of 50', async () => {
    const responses = await Promise.all(Array.from({ length: 50 }, () => attempt('target@acme.test', 'wrong-password')))
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(4)
    expect(statuses.filter((s) => s === 423)).toHaveLength(46)
    for (const r of responses.filter((r) => r.status === 423)) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)

    expect(await countEvents('target@acme.test')).toEqual({
      'login_failed:invalid_credentials': 5,
      'login_failed:account_locked': 45,
      'account_locked:too_many_failures': 1,
    })
    const [state] = await db.sql`SELECT * FROM account_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'target@acme.test'`
    expect(state!.failed_login_attempts).toBe(50)
    expect(state!.lockout_count).toBe(1)
    expect(state!.account_locked_until.getTime()).toBeGreaterThan(Date.now())
    // Every event has its outbox row, and the chain has no gap.
    const [counts] = await db.sql<{ logs: number; outbox: number }[]>`
      SELECT (SELECT count(*)::int FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND identifier = 'target@acme.test') AS logs,
             (SELECT count(*)::int FROM outbox o JOIN auth_logs l ON l.id = o.event_id WHERE l.identifier = 'target@acme.test') AS outbox`
    expect(counts).toEqual({ logs: 51, outbox: 51 })
    const seqs = await db.sql`SELECT seq FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND identifier = 'target@acme.test' ORDER BY seq`
    const first = seqs[0]!.seq as number
    expect(seqs.map((r) => r.seq)).toEqual(Array.from({ length: 51 }, (_, i) => first + i))
  })

  it('answers a locked account with 423 and Retry-After without hashing, even with the right password', async () => {
    const target = acme.users['target@acme.test']!
    const before = hasher.verifications.length
    const res = await attempt('target@acme.test', target.password)
    expect(res.status).toBe(423)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    expect(hasher.verifications.length).toBe(before)
    expect((await countEvents('target@acme.test'))['login_failed:account_locked']).toBe(46)
  })

  it('acts on an expired lockout with lockout_reset, and a success after failures resets too', async () => {
    const target = acme.users['target@acme.test']!
    t.clock.now = new Date(Date.now() + 61_000)
    const res = await attempt('target@acme.test', target.password)
    expect(res.status).toBe(200)
    const counts = await countEvents('target@acme.test')
    expect(counts['lockout_reset:lockout_expired']).toBe(1)
    expect(counts['login_success:null']).toBe(1)
    const [state] = await db.sql`SELECT * FROM account_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'target@acme.test'`
    expect(state).toMatchObject({ failed_login_attempts: 0, account_locked_until: null, lockout_count: 0 })

    await attempt('helpdesk@acme.test', 'wrong')
    await attempt('helpdesk@acme.test', 'wrong')
    const ok = await attempt('helpdesk@acme.test', acme.users['helpdesk@acme.test']!.password)
    expect(ok.status).toBe(200)
    const helpdesk = await countEvents('helpdesk@acme.test')
    expect(helpdesk).toEqual({ 'login_failed:invalid_credentials': 2, 'login_success:null': 1, 'lockout_reset:login_succeeded': 1 })
    const [reset] = await db.sql`SELECT metadata FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND identifier = 'helpdesk@acme.test' AND event_type = 'lockout_reset'`
    expect(reset!.metadata.previous_failed_attempts).toBe(2)
    t.clock.now = null
  })

  it('grows the lockout duration with repeated lockouts, up to the maximum', async () => {
    const durations: number[] = []
    let now = Date.now()
    for (let round = 0; round < 3; round++) {
      t.clock.now = new Date(now)
      for (let i = 0; i < 5; i++) await attempt('grow@acme.test', 'wrong')
      const [row] = await db.sql`SELECT account_locked_until FROM account_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'grow@acme.test'`
      durations.push(Math.round((row!.account_locked_until.getTime() - now) / 1000))
      now = row!.account_locked_until.getTime() + 1000
    }
    t.clock.now = null
    expect(durations).toEqual([60, 120, 200])
    expect((await countEvents('grow@acme.test'))['account_locked:too_many_failures']).toBe(3)
  })

  it('locks an identifier that has no account exactly like a real one', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await attempt('ghost@acme.test', 'wrong')).status)
    expect(statuses).toEqual([401, 401, 401, 401, 423, 423])
  })
})
