import { sign } from 'hono/jwt'
import { describe, expect, it } from 'vitest'
import { UNATTRIBUTED_TENANT_ID } from '../src/core/tenancy.ts'
import { useTestDatabase } from './support/database.ts'
import { uuidv7 } from '../src/core/ids.ts'
import { postJson, postWith, TEST_SIGNING_KEY, useSeededTenant, useTestApp, type TestApp } from './support/test-app.ts'

// The inputs of issue 9 that escaped the audit or answered 500, each as one request in-process; the
// property-based suite (hostile-input.test.ts) sends them and many more over real sockets.
const db = useTestDatabase('faults_cases')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }, { identifier: 'admin@acme.test', role: 'admin' }] })

async function attempts(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE event_type IN ('login_failed', 'login_success', 'registration_failed', 'registration_succeeded')`
  return row!.n
}
async function lastAttempt() {
  const [row] = await db.sql`SELECT * FROM auth_logs WHERE event_type IN ('login_failed', 'registration_failed') ORDER BY occurred_at DESC, id DESC LIMIT 1`
  return row!
}
/** A token for the admin with a stored session, and a signer for any variant of its claims. */
async function adminClaims(app: TestApp) {
  const admin = acme.users['admin@acme.test']!
  const iat = Math.floor(Date.now() / 1000)
  const claims = { sub: admin.id, tid: acme.tenant.id, org: acme.organisationId, role: admin.role, jti: crypto.randomUUID(), sid: uuidv7(), iat, exp: iat + 600 }
  const token = await app.tokens.issue(claims)
  return { token, full: { ...claims, iss: 'authtrail' } as Record<string, unknown> }
}

async function expectRefused(res: Response, field: string, status = 400) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = await res.json()
  expect(body.errors.map((e: { field: string }) => e.field)).toContain(field)
}

describe('hostile input: each refused with a 4xx naming the field, and audited exactly once', () => {
  it('NUL in the identifier, the tenant and the device: 400 naming it, audited with U+FFFD in its place', async () => {
    const alice = acme.users['alice@acme.test']!
    const cases: [string, Record<string, string>, string][] = [
      ['/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test\u0000', password: alice.password }, 'identifier'],
      ['/v1/auth/login', { tenant: 'ac\u0000me', identifier: 'alice@acme.test', password: 'x' }, 'tenant'],
      ['/v1/mobile/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: alice.password, device_id: 'd\u0000' }, 'device_id'],
      ['/v1/auth/register', { tenant: 'acme', identifier: 'eve\u0000@acme.test', password: 'a long enough password' }, 'identifier'],
    ]
    for (const [path, body, field] of cases) {
      const before = await attempts()
      await expectRefused(await postJson(t.app, path, body), field)
      expect(await attempts()).toBe(before + 1)
    }
    expect((await lastAttempt()).identifier).toBe('eve\ufffd@acme.test')
  })

  it('identifiers empty or over 254 characters once normalised are refused, on login and registration', async () => {
    for (const identifier of [' ', '\ufdfa'.repeat(20)]) {
      for (const path of ['/v1/auth/login', '/v1/auth/register']) {
        const before = await attempts()
        await expectRefused(await postJson(t.app, path, { tenant: 'acme', identifier, password: 'a long enough password' }), 'identifier')
        expect(await attempts()).toBe(before + 1)
      }
    }
    const [expanded] = await db.sql`SELECT count(*)::int AS n FROM account_lockouts WHERE length(identifier) > 254`
    expect(expanded!.n).toBe(0)
  })

  it('NUL in a path parameter or a query string: 400 naming it', async () => {
    const { token } = await adminClaims(t)
    await expectRefused(await postWith(t.app, '/v1/admin/lockouts/%00/unlock', `Bearer ${token}`), 'identifier')
    await expectRefused(await t.app.request('/v1/investigation/events?identifier=a%00', { headers: { authorization: `Bearer ${token}` } }), 'identifier')
  })

  it('a zoned IPv6 or a forwarded entry that is no address: audited with the address, never without one', async () => {
    for (const [forwarded, ip] of [['fe80::1%eth0', 'fe80::1'], ['unknown', '203.0.113.7'], ['1.2.3.4|evil', '203.0.113.7'], ['[2001:db8::1]', '2001:db8::1'], ['6.6.6.6, 198.51.100.9', '198.51.100.9']]) {
      const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: `nobody-${ip}@acme.test`, password: 'wrong password' }, { 'x-forwarded-for': forwarded! })
      expect(res.status).toBe(401)
      expect((await lastAttempt()).ip).toBe(ip)
    }
  })

  it('a UTF-8 user agent is audited as sent, not as Latin-1', async () => {
    const latin1 = Buffer.from('ü漢字', 'utf8').toString('latin1')
    await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: 'wrong password' }, { 'user-agent': latin1 })
    expect((await lastAttempt()).user_agent).toBe('ü漢字')
  })

  it('headers over 16 KiB: 431 problem+json naming the headers, audited on an authentication route', async () => {
    const before = await attempts()
    await expectRefused(await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'a', password: 'b' }, { 'x-padding': 'p'.repeat(17_000) }), 'headers', 431)
    expect(await attempts()).toBe(before + 1)
    expect((await lastAttempt()).tenant_id).toBe(UNATTRIBUTED_TENANT_ID)
    await expectRefused(await t.app.request('/v1/audit/verify', { headers: { 'x-padding': 'p'.repeat(17_000) } }), 'headers', 431)
  })

  it('a validly signed token without exp, sub, tid or org, or with a tid that is no UUID, is 401', async () => {
    const { full } = await adminClaims(t)
    const variants = [{ exp: undefined }, { sub: undefined }, { tid: undefined }, { org: undefined }, { tid: 'not-a-uuid' }, { role: 'root' }]
    for (const change of variants) {
      const claims = JSON.parse(JSON.stringify({ ...full, ...change }))
      const res = await t.app.request('/v1/admin/outbox/status', { headers: { authorization: `Bearer ${await sign(claims, TEST_SIGNING_KEY)}` } })
      expect(res.status, JSON.stringify(change)).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
    }
    const ok = await t.app.request('/v1/admin/outbox/status', { headers: { authorization: `Bearer ${await sign(full, TEST_SIGNING_KEY)}` } })
    expect(ok.status).toBe(200)
  })
})
