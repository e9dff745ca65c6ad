import { beforeAll, describe, expect, it } from 'vitest'
import type { LockoutDiagnostics } from '../src/investigation/lockout-diagnostics.ts'
import type { LockoutStatus } from '../src/investigation/lockout-status.ts'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, comparableProblem, getWith, postJson, seedTenant, useSeededTenant, useTestApp } from './support/test-app.ts'

const POLICY = { maxFailures: 3, windowSeconds: 600, baseLockSeconds: 120, multiplier: 2, maxLockSeconds: 3600 }

const db = useTestDatabase('inv_lockouts')
const t = useTestApp(db)
const acme = useSeededTenant(db, {
  slug: 'acme',
  lockoutPolicy: POLICY,
  users: [{ identifier: 'alice@acme.test' }, { identifier: 'desk@acme.test', role: 'auditor' }],
})
let helpdesk: string

beforeAll(async () => {
  helpdesk = await bearerFor(t.tokens, acme, 'desk@acme.test')
  t.clock.now = new Date('2026-11-20T09:00:00.000Z')
})

async function fail(identifier: string, ip: string): Promise<number> {
  t.clock.advance(1000)
  const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier, password: 'wrong password' }, { 'x-forwarded-for': ip, 'user-agent': `ua-${ip}` })
  return res.status
}

async function status(identifier: string): Promise<{ code: number; body: LockoutStatus & Record<string, unknown> }> {
  const res = await getWith(t.app, `/v1/investigation/lockouts/${encodeURIComponent(identifier)}`, helpdesk)
  return { code: res.status, body: (await res.json()) as LockoutStatus & Record<string, unknown> }
}

describe('lockout status', () => {
  it('is 404 for an identifier never attempted, identical for one that exists and one that does not', async () => {
    const known = await status('alice@acme.test')
    const unknown = await status('nobody@acme.test')
    expect(known.code).toBe(404)
    expect(comparableProblem(known.body)).toEqual(comparableProblem(unknown.body))
  })

  it('follows the live state: counting, locked with retry-after, lapsed', async () => {
    expect(await fail('alice@acme.test', '198.51.100.1')).toBe(401)
    let s = await status('ALICE@acme.test')
    expect(s.code).toBe(200)
    expect(s.body).toMatchObject({ identifier: 'alice@acme.test', user_id: acme.users['alice@acme.test']!.id, locked: false, failed_login_attempts: 1, failures_until_lockout: 2 })

    expect(await fail('alice@acme.test', '198.51.100.2')).toBe(401)
    expect(await fail('alice@acme.test', '198.51.100.3')).toBe(423)
    s = await status('alice@acme.test')
    expect(s.body).toMatchObject({ locked: true, failed_login_attempts: 3, failures_until_lockout: 0, lockout_count: 1, retry_after_seconds: 120 })
    expect(s.body.as_of).toBe(t.clock.now!.toISOString())

    t.clock.advance(121_000)
    s = await status('alice@acme.test')
    expect(s.body).toMatchObject({ locked: false, retry_after_seconds: null, failed_login_attempts: 0, failures_until_lockout: 3, lockout_count: 1 })
  })

  it('answers attempts on unknown identifiers too (they lock like real ones)', async () => {
    for (let i = 0; i < 3; i++) await fail('ghost@acme.test', '203.0.113.9')
    const s = await status('ghost@acme.test')
    expect(s.body).toMatchObject({ user_id: null, locked: true })
  })
})

describe('lockout diagnostics', () => {
  it('lists the failures that triggered each lockout, and an empty list for an identifier without lockouts', async () => {
    const res = await getWith(t.app, '/v1/investigation/lockouts/alice%40acme.test/diagnostics', helpdesk)
    const body = (await res.json()) as LockoutDiagnostics
    expect(body.lockouts).toHaveLength(1)
    const [lock] = body.lockouts
    expect(lock!.triggering_failures.map((f) => [f.ip, f.user_agent, f.failed_attempts])).toEqual([
      ['198.51.100.1', 'ua-198.51.100.1', 1],
      ['198.51.100.2', 'ua-198.51.100.2', 2],
      ['198.51.100.3', 'ua-198.51.100.3', 3],
    ])
    expect(lock).toMatchObject({ failed_attempts: 3, lockout_count: 1, lock_duration_seconds: 120, attempts_while_locked: 0, ended_by: null })
    const none = (await (await getWith(t.app, '/v1/investigation/lockouts/nobody%40acme.test/diagnostics', helpdesk)).json()) as LockoutDiagnostics
    expect(none).toEqual({ identifier: 'nobody@acme.test', lockouts: [] })
  })

  it('does not count failures from before a success or an earlier window', async () => {
    // bob: two failures, a success (reset), then three failures lock him: only those three triggered it.
    const users = await seedTenant(db.sql, { slug: 'acme2', lockoutPolicy: POLICY, users: [{ identifier: 'bob@acme.test' }, { identifier: 'desk@acme.test', role: 'admin' }] })
    const desk = await bearerFor(t.tokens, users, 'desk@acme.test')
    const login = (password: string, ip: string) => {
      t.clock.advance(1000)
      return postJson(t.app, '/v1/auth/login', { tenant: 'acme2', identifier: 'bob@acme.test', password }, { 'x-forwarded-for': ip })
    }
    await login('wrong 1', '192.0.2.1')
    await login('wrong 2', '192.0.2.2')
    expect((await login(users.users['bob@acme.test']!.password, '192.0.2.3')).status).toBe(200)
    await login('wrong 3', '192.0.2.4')
    await login('wrong 4', '192.0.2.5')
    expect((await login('wrong 5', '192.0.2.6')).status).toBe(423)
    expect((await login('wrong 6', '192.0.2.7')).status).toBe(423)
    const body = (await (await getWith(t.app, '/v1/investigation/lockouts/bob%40acme.test/diagnostics', desk)).json()) as LockoutDiagnostics
    expect(body.lockouts[0]!.triggering_failures.map((f) => f.ip)).toEqual(['192.0.2.4', '192.0.2.5', '192.0.2.6'])
    expect(body.lockouts[0]!.attempts_while_locked).toBe(1)
  })
})
