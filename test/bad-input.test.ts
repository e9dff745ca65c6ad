import { describe, expect, it } from 'vitest'
import { UNATTRIBUTED_TENANT_ID } from '../src/core/tenancy.ts'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, postJson, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('bad_input')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }, { identifier: 'auditor@acme.test', role: 'auditor' }] })

async function lastEvent(tenantId: string) {
  const [row] = await db.sql`SELECT * FROM auth_logs WHERE tenant_id = ${tenantId} ORDER BY occurred_at DESC, id DESC LIMIT 1`
  return row
}

async function expectProblem(res: Response, status: number, code: string, fields: string[] = []) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = await res.json()
  expect(body).toMatchObject({ status, code, type: expect.stringContaining('/problems/') })
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js):\d+|stack/i)
  for (const f of fields) expect(body.errors.map((e: { field: string }) => e.field)).toContain(f)
  return body
}

describe('bad input on authentication routes', () => {
  it('wrong types and missing fields: 400 naming each field, audited in the tenant with the field names only', async () => {
    const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: 12345 })
    await expectProblem(res, 400, 'validation_failed', ['password'])
    const row = await lastEvent(acme.tenant.id)
    expect(row).toMatchObject({ event_type: 'login_failed', reason: 'invalid_request', identifier: 'alice@acme.test', channel: 'web' })
    expect(row!.metadata).toEqual({ problem_code: 'validation_failed', invalid_fields: ['password'] })
    expect(JSON.stringify(row)).not.toContain('12345')
  })

  it('oversized fields and unknown fields are named', async () => {
    await expectProblem(await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'x'.repeat(300), password: 'p' }), 400, 'validation_failed', ['identifier'])
    await expectProblem(await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'a', password: 'p', admin: true }), 400, 'validation_failed')
    await expectProblem(await postJson(t.app, '/v1/mobile/auth/login', { tenant: 'acme', identifier: 'a', password: 'p' }), 400, 'validation_failed', ['device_id'])
    const row = await lastEvent(acme.tenant.id)
    expect(row).toMatchObject({ channel: 'mobile', reason: 'invalid_request' })
  })

  it('malformed JSON: 400 malformed_json, audited in the unattributed chain', async () => {
    const before = await db.sql`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${UNATTRIBUTED_TENANT_ID}`
    await expectProblem(await postJson(t.app, '/v1/auth/login', '{"tenant": "acme", "password": '), 400, 'malformed_json')
    const after = await db.sql`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${UNATTRIBUTED_TENANT_ID}`
    expect(after[0]!.n).toBe(before[0]!.n + 1)
    expect((await lastEvent(UNATTRIBUTED_TENANT_ID))!.metadata.problem_code).toBe('malformed_json')
  })

  it('unknown tenant: 400 naming tenant, audited in the unattributed chain with the slug tried', async () => {
    const body = await expectProblem(await postJson(t.app, '/v1/auth/login', { tenant: 'nope', identifier: 'alice@acme.test', password: 'p' }), 400, 'unknown_tenant', ['tenant'])
    expect(body.errors).toEqual([{ field: 'tenant', detail: 'unknown tenant' }])
    const row = await lastEvent(UNATTRIBUTED_TENANT_ID)
    expect(row).toMatchObject({ reason: 'unknown_tenant', identifier: 'alice@acme.test' })
    expect(row!.metadata.attempted_tenant).toBe('nope')
  })

  it('a body over the limit is refused unread (413) and still audited', async () => {
    const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'a', password: 'x'.repeat(40_000) })
    await expectProblem(res, 413, 'payload_too_large')
    expect((await lastEvent(UNATTRIBUTED_TENANT_ID))!.metadata.problem_code).toBe('payload_too_large')
  })

  it('a non-JSON content type is a 4xx problem, audited', async () => {
    const res = await t.app.request('/v1/auth/login', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'tenant=acme' })
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect((await lastEvent(UNATTRIBUTED_TENANT_ID))!.event_type).toBe('login_failed')
  })

  it('ill-formed Unicode (a lone surrogate) is audited with U+FFFD in its place, never a 500', async () => {
    const res = await postJson(t.app, '/v1/auth/login', '{"tenant":"acme","identifier":"eve\\ud800@acme.test","password":"x"}', { 'user-agent': 'ua' })
    expect(res.status).toBe(401)
    const { event_id } = await res.json()
    const [row] = await db.sql`SELECT identifier FROM auth_logs WHERE id = ${event_id}`
    expect(row!.identifier).toBe('eve\ufffd@acme.test')
    const verify = await t.app.request('/v1/audit/verify', { headers: { authorization: await bearerFor(t.tokens, acme, 'auditor@acme.test') } })
    expect((await verify.json()).ok).toBe(true)
  })

  it('every kind of refusal is audited exactly once, with the code it was answered with', async () => {
    const json = { 'content-type': 'application/json', 'user-agent': 'vitest' }
    const refusals: [RequestInit & { path: string }, number, string][] = [
      [{ path: '/v1/auth/login', method: 'POST', headers: json, body: '{"tenant":"acme"}' }, 400, 'validation_failed'],
      [{ path: '/v1/auth/login', method: 'POST', headers: json, body: '{' }, 400, 'malformed_json'],
      [{ path: '/v1/auth/login', method: 'POST', headers: { 'user-agent': 'vitest' }, body: '{"tenant":"acme"}' }, 415, 'unsupported_media_type'],
      [{ path: '/v1/auth/login', method: 'POST', headers: { ...json, 'idempotency-key': 'x' }, body: '{}' }, 400, 'validation_failed'],
      [{ path: '/v1/auth/register', method: 'POST', headers: json, body: JSON.stringify({ tenant: 'acme', identifier: 'a', password: 'x'.repeat(20_000) }) }, 413, 'payload_too_large'],
      [{ path: '/v1/mobile/auth/login', method: 'POST', headers: json, body: JSON.stringify({ tenant: 'nope', identifier: 'a', password: 'p', device_id: 'd' }) }, 400, 'unknown_tenant'],
      [{ path: '/v1/auth/login', method: 'GET' }, 404, 'not_found'],
    ]
    for (const [{ path, ...init }, status, code] of refusals) {
      const [before] = await db.sql`SELECT count(*)::int AS n FROM auth_logs`
      const res = await t.app.request(path, init)
      expect(res.status, `${init.method} ${path}`).toBe(status)
      const rows = await db.sql`SELECT metadata FROM auth_logs ORDER BY occurred_at DESC, id DESC LIMIT 2`
      const [after] = await db.sql`SELECT count(*)::int AS n FROM auth_logs`
      expect(after!.n - before!.n, `${init.method} ${path} ${code}`).toBe(1)
      expect(rows[0]!.metadata.problem_code).toBe(code)
    }
  })

  it('unknown routes are 404 problems', async () => {
    await expectProblem(await t.app.request('/v1/nothing'), 404, 'not_found')
  })
})
