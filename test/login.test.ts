import { describe, expect, it } from 'vitest'
import { useTestDatabase } from './support/database.ts'
import { countingHasher } from './support/counting-hasher.ts'
import { postJson, TEST_HASHER, useSeededTenant, useTestApp } from './support/test-app.ts'

const hasher = countingHasher(TEST_HASHER)

const db = useTestDatabase('login')
const t = useTestApp(db, { hasher })
const acme = useSeededTenant(db, { slug: 'acme', registrationMode: 'open', users: [{ identifier: 'alice@acme.test' }, { identifier: 'bob@acme.test' }, { identifier: 'carol@acme.test' }] })

const login = (path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => postJson(t.app, path, body, headers)

async function rowsFor(eventId: string) {
  const logs = await db.sql`SELECT * FROM auth_logs WHERE id = ${eventId}`
  const outbox = await db.sql`SELECT * FROM outbox WHERE event_id = ${eventId}`
  return { log: logs[0], logs, outbox }
}

describe('POST /v1/auth/login', () => {
  it('logs in, sets a hardened cookie, and writes exactly one log row, one outbox row and the chain link', async () => {
    const alice = acme.users['alice@acme.test']!
    const [headBefore] = await db.sql`SELECT sum(seq)::int AS n FROM chain_heads WHERE tenant_id = ${acme.tenant.id}`
    // A fixed clock: expires_in is counted from the answer's time, which must not cross a second here.
    t.clock.now = new Date()
    const res = await login('/v1/auth/login', { tenant: 'acme', identifier: '  Alice@ACME.test ', password: alice.password }, { 'x-forwarded-for': '198.51.100.23' })
    t.clock.now = null
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toContain(`authtrail_session=${body.access_token}`)
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/Secure/)
    expect(cookie).toMatch(/SameSite=Strict/)

    const claims = await t.tokens.verify(body.access_token)
    expect(claims).toMatchObject({ sub: alice.id, tid: acme.tenant.id, org: acme.organisationId, role: 'user', iss: 'authtrail' })
    expect(claims.exp - claims.iat).toBe(3600)

    const { log, logs, outbox } = await rowsFor(body.event_id)
    expect(logs).toHaveLength(1)
    expect(log).toMatchObject({
      tenant_id: acme.tenant.id,
      organisation_id: acme.organisationId,
      event_type: 'login_success',
      channel: 'web',
      user_id: alice.id,
      identifier: 'alice@acme.test',
      ip: '198.51.100.23',
      user_agent: 'vitest',
      outcome: 'success',
      token_jti: claims.jti,
    })
    expect(outbox).toHaveLength(1)
    expect(outbox[0]).toMatchObject({ tenant_id: acme.tenant.id, shard: log!.shard, seq: log!.seq })
    expect(outbox[0]!.payload.event.chain_hash).toBe(Buffer.from(log!.chain_hash).toString('hex'))
    const [headAfter] = await db.sql`SELECT sum(seq)::int AS n FROM chain_heads WHERE tenant_id = ${acme.tenant.id}`
    expect(headAfter!.n - headBefore!.n).toBe(1)
    const [lockout] = await db.sql`SELECT * FROM account_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'alice@acme.test'`
    expect(lockout).toMatchObject({ failed_login_attempts: 0, account_locked_until: null, user_id: alice.id })
  })

  it('never stores the password, the token or the body', async () => {
    const alice = acme.users['alice@acme.test']!
    const res = await login('/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: alice.password })
    const { access_token, event_id } = await res.json()
    await login('/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: 'a-wrong-password-SECRET' })
    const dump = JSON.stringify(await db.sql`SELECT * FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`) + JSON.stringify(await db.sql`SELECT payload FROM outbox`)
    expect(dump).toContain(event_id)
    expect(dump).not.toContain(alice.password)
    expect(dump).not.toContain('a-wrong-password-SECRET')
    expect(dump).not.toContain(access_token)
    expect(dump).not.toContain(access_token.split('.')[2])
    expect(JSON.stringify(t.logs)).not.toContain('SECRET')
  })

  it('answers an unknown identifier exactly like a wrong password, after verifying a dummy hash', async () => {
    const normalise = async (res: Response) => {
      const body = await res.json()
      delete body.request_id
      delete body.event_id
      return { status: res.status, type: res.headers.get('content-type'), body }
    }
    const before = hasher.verifications.length
    const wrong = await login('/v1/auth/login', { tenant: 'acme', identifier: 'bob@acme.test', password: 'not-bobs-password' })
    const unknown = await login('/v1/auth/login', { tenant: 'acme', identifier: 'nobody@acme.test', password: 'not-bobs-password' })
    const [u, w] = [await normalise(unknown), await normalise(wrong)]
    expect(u).toEqual(w)
    expect(w.body).toMatchObject({ status: 401, code: 'invalid_credentials' })
    expect(w.type).toBe('application/problem+json')
    // Both paths ran one argon2id verification; the unknown one against the dummy hash.
    expect(hasher.verifications.slice(before)).toHaveLength(2)
    expect(hasher.verifications.at(-1)).toBe(t.deps.dummyHash)
    const [row] = await db.sql`SELECT * FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND identifier = 'nobody@acme.test'`
    expect(row).toMatchObject({ event_type: 'login_failed', reason: 'invalid_credentials', user_id: null })
    expect(row!.risk.signals).toContain('unknown_identifier')
  })

  it('writes identical records for web and mobile apart from channel and the device', async () => {
    const carol = acme.users['carol@acme.test']!
    const web = await (await login('/v1/auth/login', { tenant: 'acme', identifier: carol.identifier, password: carol.password })).json()
    const mobile = await login('/v1/mobile/auth/login', { tenant: 'acme', identifier: carol.identifier, password: carol.password, device_id: 'ios-42' })
    expect(mobile.status).toBe(200)
    expect(mobile.headers.get('set-cookie')).toBeNull()
    const m = await mobile.json()
    const [w] = await db.sql`SELECT * FROM auth_logs WHERE id = ${web.event_id}`
    const [mo] = await db.sql`SELECT * FROM auth_logs WHERE id = ${m.event_id}`
    expect(mo!.channel).toBe('mobile')
    expect(mo!.device_id).toBe('ios-42')
    const differing = new Set(['id', 'channel', 'device_id', 'seq', 'occurred_at', 'expires_at', 'token_jti', 'metadata', 'digest_sha256', 'digest_sha512', 'digest_sha3_256', 'prev_hash', 'chain_hash'])
    const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => !differing.has(k)))
    expect(strip(mo!)).toEqual(strip(w!))
    expect(Object.keys(mo!.metadata)).toEqual(Object.keys(w!.metadata))
  })
})

describe('POST /v1/auth/register', () => {
  it('registers, audits with risk signals, and answers a taken identifier identically', async () => {
    const first = await postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'dave@acme.test', password: 'a sufficiently long passphrase' })
    expect(first.status).toBe(202)
    const again = await postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'dave@acme.test', password: 'another long passphrase!' })
    expect(again.status).toBe(202)
    const a = await first.json()
    const b = await again.json()
    expect(Object.keys(a)).toEqual(Object.keys(b))
    const rows = await db.sql`SELECT event_type, reason, risk, user_id FROM auth_logs WHERE id IN (${a.event_id}, ${b.event_id}) ORDER BY occurred_at`
    expect(rows.map((r) => [r.event_type, r.reason])).toEqual([
      ['registration_succeeded', null],
      ['registration_failed', 'identifier_taken'],
    ])
    expect(rows[1]!.risk.signals).toContain('identifier_taken')
    const ok = await login('/v1/auth/login', { tenant: 'acme', identifier: 'dave@acme.test', password: 'a sufficiently long passphrase' })
    expect(ok.status).toBe(200)
  })

  it('refuses a weak password naming the field, and audits it', async () => {
    const res = await postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'erin@acme.test', password: 'short' })
    expect(res.status).toBe(422)
    const body = await res.json()
    expect(body).toMatchObject({ code: 'weak_password', errors: [{ field: 'password' }] })
    const [row] = await db.sql`SELECT event_type, reason FROM auth_logs WHERE id = ${body.event_id}`
    expect(row).toEqual({ event_type: 'registration_failed', reason: 'weak_password' })
  })
})
