import { describe, expect, it } from 'vitest'
import { useTestDatabase } from './support/database.ts'
import { postJson, useSeededTenant, useTestApp } from './support/test-app.ts'

// Enough connections for 50 attempts to really contend for the same lockout rows.
const db = useTestDatabase('defence_account_ip', { max: 20 })
const t = useTestApp(db)
const acme = useSeededTenant(db, {
  slug: 'acme',
  lockoutPolicy: { maxFailures: 5, windowSeconds: 900, baseLockSeconds: 60, multiplier: 2, maxLockSeconds: 200 },
  defencePolicy: { lockout_mode: 'account_ip', allow_list: ['198.51.100.0/24'] },
  users: [{ identifier: 'victim@acme.test' }, { identifier: 'grow@acme.test' }],
})

const HOME = '192.0.2.10'
const attempt = (identifier: string, ip: string, password = 'wrong password') =>
  postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier, password }, { 'x-forwarded-for': ip })

async function lockEvents(identifier: string) {
  return db.sql<{ metadata: Record<string, unknown> }[]>`
    SELECT metadata FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND identifier = ${identifier} AND event_type = 'account_locked' ORDER BY seq`
}

describe('lockout mode account_ip', () => {
  it('a locked account still lets its owner in from a known address while the attackers stay locked', async () => {
    const victim = acme.users['victim@acme.test']!
    // The owner has logged in from home before: that network is known to the account.
    expect((await attempt('victim@acme.test', HOME, victim.password)).status).toBe(200)

    // 50 parallel wrong passwords from five attacker addresses: the account locks once, exactly.
    const attackers = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '2001:db8:66::1', '2001:db8:67::1']
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => attempt('victim@acme.test', attackers[i % attackers.length]!)))
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(4)
    expect(statuses.filter((s) => s === 423)).toHaveLength(46)
    const locks = await lockEvents('victim@acme.test')
    expect(locks).toHaveLength(1)
    expect(locks[0]!.metadata).toMatchObject({ lockout_mode: 'account_ip', failed_attempts: 5 })
    expect(locks[0]!.metadata.network).toBeUndefined()

    // Every attacker address, and any other unknown one, stays locked even with the right password.
    for (const ip of [...attackers, '203.0.113.99']) expect((await attempt('victim@acme.test', ip, victim.password)).status).toBe(423)
    // The owner, from the known network, gets in; so does anyone from the allow-listed corporate network.
    expect((await attempt('victim@acme.test', HOME, victim.password)).status).toBe(200)
    expect((await attempt('victim@acme.test', '198.51.100.20', victim.password)).status).toBe(200)
    // And the attackers' lock is still in place afterwards.
    expect((await attempt('victim@acme.test', '203.0.113.1', victim.password)).status).toBe(423)
    const [row] = await db.sql`SELECT account_locked_until FROM account_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'victim@acme.test'`
    expect(row!.account_locked_until.getTime()).toBeGreaterThan(Date.now())
  })

  it('a known address that fails on its own is locked on its own, exactly, with the escalation rule kept', async () => {
    const durations: number[] = []
    const grow = acme.users['grow@acme.test']!
    expect((await attempt('grow@acme.test', HOME, grow.password)).status).toBe(200)
    let now = Date.now()
    for (let round = 0; round < 3; round++) {
      t.clock.now = new Date(now)
      const responses = await Promise.all(Array.from({ length: 20 }, () => attempt('grow@acme.test', HOME)))
      expect(responses.filter((r) => r.status === 401)).toHaveLength(4)
      expect(responses.filter((r) => r.status === 423)).toHaveLength(16)
      const [row] = await db.sql`
        SELECT account_locked_until FROM account_network_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'grow@acme.test' AND network = '192.0.2.10/32'`
      durations.push(Math.round((row!.account_locked_until.getTime() - now) / 1000))
      now = row!.account_locked_until.getTime() + 1000
    }
    t.clock.now = null
    expect(durations).toEqual([60, 120, 200])
    const locks = await lockEvents('grow@acme.test')
    expect(locks.map((l) => l.metadata)).toEqual(
      [1, 2, 3].map((n) => expect.objectContaining({ lockout_mode: 'account_ip', network: '192.0.2.10/32', lockout_count: n })),
    )
    // The account itself never locked: from an unknown address a wrong password is a plain failure.
    expect((await attempt('grow@acme.test', '203.0.113.50')).status).toBe(401)
  })
})
