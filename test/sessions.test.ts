import { decode } from 'hono/jwt'
import { describe, expect, it } from 'vitest'
import { createTokenService, generateSigningKey, publicJwkOf } from '../src/auth/tokens.ts'
import { useTestDatabase } from './support/database.ts'
import { postJson, TEST_SIGNING_KEY, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('sessions')
const t = useTestApp(db)
const acme = useSeededTenant(db, {
  slug: 'acme',
  users: [
    { identifier: 'alice@acme.test' },
    { identifier: 'bob@acme.test' },
    { identifier: 'admin@acme.test', role: 'admin' },
    { identifier: 'auditor@acme.test', role: 'auditor' },
  ],
})

interface SessionBody {
  access_token: string
  refresh_token: string
  expires_in: number
  refresh_expires_in: number
  session_id: string
  csrf_token?: string
  event_id: string
}

async function logIn(identifier: string, options: { deviceId?: string; headers?: Record<string, string> } = {}): Promise<SessionBody> {
  const user = acme.users[identifier]!
  const path = options.deviceId ? '/v1/mobile/auth/login' : '/v1/auth/login'
  const body = { tenant: 'acme', identifier, password: user.password, ...(options.deviceId ? { device_id: options.deviceId } : {}) }
  const res = await postJson(t.app, path, body, options.headers)
  expect(res.status).toBe(200)
  return res.json()
}

const refresh = (body: Record<string, unknown>, headers: Record<string, string> = {}) => postJson(t.app, '/v1/auth/refresh', body, headers)
const whoami = (token: string, headers: Record<string, string> = {}) => t.app.request('/v1/auth/session', { headers: { authorization: `Bearer ${token}`, ...headers } })

async function eventsOf(type: string, userId: string) {
  return db.sql<{ id: string; reason: string | null; metadata: Record<string, unknown>; token_jti: string | null; actor_id: string | null }[]>`
    SELECT id, reason, metadata, token_jti, actor_id FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND event_type = ${type} AND user_id = ${userId} ORDER BY occurred_at`
}

describe('access tokens: EdDSA, key ids, JWKS', () => {
  it('signs with Ed25519 under a key id that /.well-known/jwks.json publishes, and refuses HS256 or an unknown key', async () => {
    const session = await logIn('alice@acme.test')
    expect(decode(session.access_token).header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: TEST_SIGNING_KEY.kid })
    const jwks = await (await t.app.request('/.well-known/jwks.json')).json()
    expect(jwks).toEqual({ keys: [publicJwkOf(TEST_SIGNING_KEY)] })
    expect(JSON.stringify(jwks)).not.toContain(TEST_SIGNING_KEY.d)

    // Another service checks the token with the published keys alone.
    const verifier = createTokenService({ signing: { ...(await generateSigningKey('unused')) }, verifying: jwks.keys }, 'authtrail')
    expect((await verifier.verify(session.access_token)).sub).toBe(acme.users['alice@acme.test']!.id)

    const claims = await t.tokens.verify(session.access_token)
    const hs256 = await createTokenService('s'.repeat(40), 'authtrail').issue({ ...claims })
    expect((await whoami(hs256)).status).toBe(401)
    const stranger = await createTokenService({ signing: await generateSigningKey(TEST_SIGNING_KEY.kid) }, 'authtrail').issue({ ...claims })
    expect((await whoami(stranger)).status).toBe(401)
  })

  it('rotates keys without downtime: tokens of the previous key verify while it is published', async () => {
    const next = await generateSigningKey('next-2027-01')
    const before = createTokenService({ signing: TEST_SIGNING_KEY, verifying: [publicJwkOf(next)] }, 'authtrail')
    const after = createTokenService({ signing: next, verifying: [publicJwkOf(TEST_SIGNING_KEY)] }, 'authtrail')
    const iat = Math.floor(Date.now() / 1000)
    const [sub, tid, org, sid] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()]
    const claims = { sub, tid, org, role: 'user' as const, jti: crypto.randomUUID(), sid, iat, exp: iat + 60 }
    expect((await after.verify(await before.issue(claims))).sub).toBe(sub)
    expect((await before.verify(await after.issue(claims))).sub).toBe(sub)
    expect(before.jwks().keys.map((k) => k.kid)).toEqual([TEST_SIGNING_KEY.kid, 'next-2027-01'])
  })
})

describe('refresh tokens (RFC 9700 rotation and reuse detection)', () => {
  it('rotates on every use, audits token_refreshed, and stores only digests', async () => {
    const alice = acme.users['alice@acme.test']!
    const first = await logIn('alice@acme.test')
    const res = await refresh({ refresh_token: first.refresh_token })
    expect(res.status).toBe(200)
    const second: SessionBody = await res.json()
    expect(second.session_id).toBe(first.session_id)
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect(second.access_token).not.toBe(first.access_token)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect((await whoami(second.access_token)).status).toBe(200)

    const [event] = (await eventsOf('token_refreshed', alice.id)).filter((e) => e.id === second.event_id)
    expect(event!.metadata).toMatchObject({ session_id: first.session_id })
    expect(event!.token_jti).toBe((await t.tokens.verify(second.access_token)).jti)
    const stored = await db.sql`SELECT encode(token_hash, 'hex') AS h FROM refresh_tokens WHERE session_id = ${first.session_id}`
    expect(stored).toHaveLength(2)
    const everything = JSON.stringify(await db.sql`SELECT * FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`)
    expect(everything).not.toContain(first.refresh_token)
    expect(everything).not.toContain(second.refresh_token)
  })

  it('revokes the whole family when a rotated token is presented again, and audits refresh_reuse_detected', async () => {
    const alice = acme.users['alice@acme.test']!
    const first = await logIn('alice@acme.test')
    const second: SessionBody = await (await refresh({ refresh_token: first.refresh_token })).json()

    const replay = await refresh({ refresh_token: first.refresh_token })
    expect(replay.status).toBe(401)
    const problem = await replay.json()
    expect(problem.code).toBe('invalid_refresh_token')
    const [event] = (await eventsOf('refresh_reuse_detected', alice.id)).filter((e) => e.id === problem.event_id)
    expect(event).toMatchObject({ reason: 'refresh_token_reused', metadata: { session_id: first.session_id } })

    // The thief's stolen token and the legitimate client's current one are both dead now.
    expect((await refresh({ refresh_token: second.refresh_token })).status).toBe(401)
    expect((await whoami(second.access_token)).status).toBe(401)
    const [session] = await db.sql`SELECT revoked_reason FROM auth_sessions WHERE id = ${first.session_id}`
    expect(session!.revoked_reason).toBe('refresh_token_reused')
  })

  it('serialises concurrent refreshes of one token: exactly one rotates it, the other is treated as reuse', async () => {
    for (let round = 0; round < 5; round++) {
      const first = await logIn('bob@acme.test')
      const answers = await Promise.all([1, 2, 3].map(() => refresh({ refresh_token: first.refresh_token })))
      expect(answers.map((r) => r.status).sort()).toEqual([200, 401, 401])
    }
  })

  it('binds a mobile session to its device: another device revokes it', async () => {
    const alice = acme.users['alice@acme.test']!
    const mobile = await logIn('alice@acme.test', { deviceId: 'ios-6F2C9A' })
    expect((await t.tokens.verify(mobile.access_token)).did).toBe('ios-6F2C9A')
    const ok = await refresh({ refresh_token: mobile.refresh_token, device_id: 'ios-6F2C9A' })
    expect(ok.status).toBe(200)
    const next: SessionBody = await ok.json()
    const me = await (await whoami(next.access_token)).json()
    expect(me).toMatchObject({ channel: 'mobile', device_id: 'ios-6F2C9A' })

    const elsewhere = await refresh({ refresh_token: next.refresh_token, device_id: 'android-1' })
    expect(elsewhere.status).toBe(401)
    const problem = await elsewhere.json()
    const [event] = (await eventsOf('refresh_reuse_detected', alice.id)).filter((e) => e.id === problem.event_id)
    expect(event!.reason).toBe('device_mismatch')
    expect((await whoami(next.access_token)).status).toBe(401)
  })

  it('refuses unknown and malformed refresh tokens with 4xx problems, never 5xx', async () => {
    for (const body of [{ refresh_token: 'x'.repeat(43) }, { refresh_token: '' }, { refresh_token: 7 }, {}, { nope: 1 }]) {
      const res = await refresh(body)
      expect([400, 401]).toContain(res.status)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
    }
  })
})

describe('who am I, logout, revocation', () => {
  it('GET /v1/auth/session tells the user, tenant, organisation, role and expiries', async () => {
    const session = await logIn('auditor@acme.test')
    const res = await whoami(session.access_token)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      user_id: acme.users['auditor@acme.test']!.id,
      identifier: 'auditor@acme.test',
      tenant_id: acme.tenant.id,
      tenant: 'acme',
      organisation_id: acme.organisationId,
      role: 'auditor',
      session_id: session.session_id,
      channel: 'web',
      device_id: null,
    })
    expect((await t.app.request('/v1/auth/session')).status).toBe(401)
  })

  it('logs out of this session only, or of every session, auditing logout', async () => {
    const bob = acme.users['bob@acme.test']!
    const [one, two, three] = [await logIn('bob@acme.test'), await logIn('bob@acme.test'), await logIn('bob@acme.test')]
    const out = await postJson(t.app, '/v1/auth/logout', {}, { authorization: `Bearer ${one.access_token}` })
    expect(out.status).toBe(200)
    expect(await out.json()).toMatchObject({ sessions_revoked: 1 })
    expect((await whoami(one.access_token)).status).toBe(401)
    expect((await refresh({ refresh_token: one.refresh_token })).status).toBe(401)
    expect((await whoami(two.access_token)).status).toBe(200)

    const all = await postJson(t.app, '/v1/auth/logout', { scope: 'all' }, { authorization: `Bearer ${two.access_token}` })
    expect((await all.json()).sessions_revoked).toBeGreaterThanOrEqual(2)
    expect((await whoami(three.access_token)).status).toBe(401)
    const events = await eventsOf('logout', bob.id)
    expect(events.map((e) => e.metadata.scope)).toEqual(['session', 'all'])
  })

  it("refuses a demoted administrator's token from the next request, and lets an administrator revoke a user's sessions", async () => {
    const admin = acme.users['admin@acme.test']!
    const alice = acme.users['alice@acme.test']!
    const adminSession = await logIn('admin@acme.test')
    const aliceSession = await logIn('alice@acme.test')
    const revoke = await postJson(t.app, '/v1/auth/sessions/revoke', { user_id: alice.id }, { authorization: `Bearer ${adminSession.access_token}` })
    expect(revoke.status).toBe(200)
    const result = await revoke.json()
    expect(result.sessions_revoked).toBeGreaterThanOrEqual(1)
    expect((await whoami(aliceSession.access_token)).status).toBe(401)
    const [event] = (await eventsOf('session_revoked', alice.id)).filter((e) => e.id === result.event_id)
    expect(event!.actor_id).toBe(admin.id)

    const byUser = await postJson(t.app, '/v1/auth/sessions/revoke', { user_id: admin.id }, { authorization: `Bearer ${aliceSession.access_token}` })
    expect(byUser.status).toBe(401)
    const unknown = await postJson(t.app, '/v1/auth/sessions/revoke', { user_id: crypto.randomUUID() }, { authorization: `Bearer ${adminSession.access_token}` })
    expect(unknown.status).toBe(404)

    // Demoted in the database: the very next request with the old token is refused (the check is per request).
    const unlock = () => t.app.request('/v1/investigation/events', { headers: { authorization: `Bearer ${adminSession.access_token}` } })
    expect((await unlock()).status).toBe(200)
    await db.sql`UPDATE users SET role = 'user' WHERE id = ${admin.id}`
    try {
      const refused = await unlock()
      expect(refused.status).toBe(401)
      expect((await refused.json()).detail).toMatch(/role changed/)
      // A refresh issues a token with the current role, which no longer opens the investigation API.
      const demoted: SessionBody = await (await refresh({ refresh_token: adminSession.refresh_token })).json()
      expect((await t.tokens.verify(demoted.access_token)).role).toBe('user')
    } finally {
      await db.sql`UPDATE users SET role = 'admin' WHERE id = ${admin.id}`
    }
  })
})

describe('the web session cookie (same-site apps)', () => {
  it('is a real credential: __Host- prefixed, HttpOnly, SameSite=Strict, and needs the CSRF token on unsafe methods', async () => {
    const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'auditor@acme.test', password: acme.users['auditor@acme.test']!.password })
    const session: SessionBody = await res.json()
    const setCookies = res.headers.getSetCookie()
    expect(setCookies).toHaveLength(2)
    for (const cookie of setCookies) expect(cookie).toMatch(/^__Host-authtrail_(session|refresh)=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict$/)
    expect(session.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const cookie = setCookies.map((c) => c.split(';')[0]).join('; ')

    expect((await t.app.request('/v1/auth/session', { headers: { cookie } })).status).toBe(200)
    expect((await t.app.request('/v1/investigation/events', { headers: { cookie } })).status).toBe(200)

    // Unsafe methods: without the CSRF token, or with a wrong one, refused; with it, done.
    const logout = (headers: Record<string, string>) => t.app.request('/v1/auth/logout', { method: 'POST', headers: { cookie, ...headers } })
    expect((await (await logout({})).json()).code).toBe('csrf_failed')
    expect((await logout({ 'x-csrf-token': 'A'.repeat(43) })).status).toBe(403)

    // The refresh cookie works with the CSRF token, and renews both cookies.
    const refreshed = await t.app.request('/v1/auth/refresh', { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': session.csrf_token! }, body: '{}' })
    expect(refreshed.status).toBe(200)
    expect(refreshed.headers.getSetCookie()).toHaveLength(2)
    const withoutCsrf = await t.app.request('/v1/auth/refresh', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' })
    expect(withoutCsrf.status).toBe(403)

    const newCookie = refreshed.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
    const out = await t.app.request('/v1/auth/logout', { method: 'POST', headers: { cookie: newCookie, 'x-csrf-token': session.csrf_token! } })
    expect(out.status).toBe(200)
    expect(out.headers.getSetCookie().every((c) => /Max-Age=0/.test(c))).toBe(true)
  })
})

describe('CORS with per-tenant allowed origins', () => {
  const APP = 'https://app.acme.example'

  it('answers a preflight from an origin a tenant allows, exactly, and nothing to others', async () => {
    await db.sql`UPDATE tenants SET allowed_origins = ${[APP]} WHERE id = ${acme.tenant.id}`
    const preflight = (origin: string, path = '/v1/auth/login') =>
      t.app.request(path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key' } })
    const allowed = await preflight(APP)
    expect(allowed.status).toBe(204)
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP)
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true')
    expect(allowed.headers.get('access-control-allow-headers')).toContain('idempotency-key')
    for (const other of ['https://evil.example', `${APP}.evil.example`, 'https://app.acme.example:8443', 'null']) {
      expect((await preflight(other)).headers.get('access-control-allow-origin')).toBeNull()
    }
    // Credentials only where cookies are used.
    expect((await preflight(APP, '/v1/investigation/events')).headers.get('access-control-allow-credentials')).toBeNull()
  })

  it('adds the CORS headers to every answer, beside the request id and the security headers, whatever built it', async () => {
    await db.sql`UPDATE tenants SET allowed_origins = ${[APP]} WHERE id = ${acme.tenant.id}`
    const wrong = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: 'not her password' }, { origin: APP, 'x-request-id': 'req-cors-1' })
    const right = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: acme.users['alice@acme.test']!.password }, { origin: APP })
    const missing = await t.app.request('/v1/no-such-route', { headers: { origin: 'https://evil.example' } })
    expect([wrong.status, right.status, missing.status]).toEqual([401, 200, 404])
    for (const res of [wrong, right]) {
      expect(res.headers.get('access-control-allow-origin')).toBe(APP)
      expect(res.headers.get('access-control-allow-credentials')).toBe('true')
    }
    for (const res of [wrong, right, missing]) {
      expect(res.headers.get('access-control-expose-headers')).toBe('retry-after,www-authenticate,content-disposition')
      expect(res.headers.get('vary')).toBe('Origin')
      expect(res.headers.get('x-request-id')).toMatch(/^[\w=-]+$/)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('cache-control')).toBe('no-store')
    }
    expect(wrong.headers.get('x-request-id')).toBe('req-cors-1')
    expect(wrong.headers.get('content-type')).toBe('application/problem+json')
    expect(missing.headers.get('access-control-allow-origin')).toBeNull()
    expect(missing.headers.get('access-control-allow-credentials')).toBeNull()
    expect(right.headers.getSetCookie()).toHaveLength(2)
  })

  it("refuses a login or a token from an origin the token's tenant does not allow, and audits the refused login", async () => {
    await db.sql`UPDATE tenants SET allowed_origins = ${[APP]} WHERE id = ${acme.tenant.id}`
    const ok = await logIn('auditor@acme.test', { headers: { origin: APP } })
    expect((await whoami(ok.access_token, { origin: APP })).status).toBe(200)
    const refused = await whoami(ok.access_token, { origin: 'https://evil.example' })
    expect(refused.status).toBe(403)
    expect((await refused.json()).code).toBe('origin_not_allowed')

    const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: acme.users['alice@acme.test']!.password }, { origin: 'https://evil.example' })
    expect(res.status).toBe(403)
    const problem = await res.json()
    expect(problem.code).toBe('origin_not_allowed')
    const [row] = await db.sql`SELECT event_type, reason, metadata FROM auth_logs WHERE id = ${problem.event_id ?? '00000000-0000-0000-0000-000000000000'} OR (tenant_id = ${acme.tenant.id} AND metadata->>'problem_code' = 'origin_not_allowed')`
    expect(row).toMatchObject({ event_type: 'login_failed', reason: 'invalid_request', metadata: { problem_code: 'origin_not_allowed' } })
    // The service's own origin is not a cross-origin request.
    const same = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: acme.users['alice@acme.test']!.password }, { origin: 'http://localhost' })
    expect(same.status).toBe(200)
  })
})
