import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bootstrapOperator } from '../src/admin/platform-operators.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { DEFAULT_ROLE_NAMES } from '../src/db/migrate.ts'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, createTestApp, getWith, postJson, postWith, seedTenant, type SeededTenant, type TestApp } from './support/test-app.ts'

/**
 * The administration API end to end on real PostgreSQL: a platform operator creates and updates a tenant
 * and invites its administrator; the administrator manages users; every change is an event in the chain
 * with its actor, and the chain verifies. Tenant administrators cannot reach another tenant, their own
 * account, or beyond their role; anonymous registration never chooses an organisation. The service runs
 * as the runtime role, which cannot change a role or a plan except by recording its event.
 */

const db = useTestDatabase('administration')
let t: TestApp
let runtime: Sql
let operator: { id: string; token: string }
let other: SeededTenant
let otherAdmin: string

const send = (method: string, path: string, authorization: string | undefined, body?: unknown) =>
  Promise.resolve(
    t.app.request(path, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), 'user-agent': 'vitest' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  )
const json = async <T = Record<string, any>>(res: Response | Promise<Response>) => {
  const r = await res
  return { status: r.status, body: (await r.json()) as T }
}
const eventOf = async (id: string) => {
  const [row] = await db.sql<{ event_type: string; actor_id: string | null; channel: string; user_id: string | null; organisation_id: string | null; metadata: any }[]>`
    SELECT event_type, actor_id, channel, user_id, organisation_id, metadata FROM auth_logs WHERE id = ${id}`
  return row!
}
const login = async (tenant: string, identifier: string, password: string) => postJson(t.app, '/v1/auth/login', { tenant, identifier, password })
const bearerOf = async (res: Response) => `Bearer ${((await res.json()) as { access_token: string }).access_token}`

beforeAll(async () => {
  const url = new URL(db.url)
  url.username = DEFAULT_ROLE_NAMES.runtime
  runtime = createSql(url.toString(), { max: 4 })
  t = await createTestApp(runtime)
  const result = await bootstrapOperator({ sql: db.sql, clock: () => new Date() }, 'ops')
  if (result.kind !== 'created') throw new Error('bootstrap failed')
  operator = { id: result.operator.id, token: `Bearer ${result.token}` }
  other = await seedTenant(db.sql, { slug: 'other', users: [{ identifier: 'admin@other.test', role: 'admin' }, { identifier: 'bob@other.test' }] })
  otherAdmin = await bearerFor(t.tokens, other, 'admin@other.test')
})

afterAll(async () => {
  await runtime?.end()
})

describe('the runtime role', () => {
  it("cannot change a role, a status or a plan behind the trail's back", async () => {
    const refused = { code: '42501' }
    await expect(runtime`UPDATE users SET role = 'admin' WHERE tenant_id = ${other.tenant.id}`).rejects.toMatchObject(refused)
    await expect(runtime`UPDATE users SET disabled_at = now() WHERE tenant_id = ${other.tenant.id}`).rejects.toMatchObject(refused)
    await expect(runtime`UPDATE tenants SET retention_days = 1 WHERE id = ${other.tenant.id}`).rejects.toMatchObject(refused)
    await expect(runtime`INSERT INTO platform_operators (id, name, token_sha256) VALUES (gen_random_uuid(), 'rogue', '\\x00')`).rejects.toMatchObject(refused)
  })
})

describe('platform operators', () => {
  it('exist only once bootstrapped, once; tenant tokens and made-up credentials are refused', async () => {
    expect(await bootstrapOperator({ sql: db.sql, clock: () => new Date() }, 'second')).toEqual({ kind: 'already_bootstrapped' })
    expect((await send('GET', '/v1/platform/tenants', undefined)).status).toBe(401)
    expect((await send('GET', '/v1/platform/tenants', otherAdmin)).status).toBe(401)
    expect((await send('GET', '/v1/platform/tenants', `Bearer atop_${'A'.repeat(43)}`)).status).toBe(401)
    const [created] = await db.sql<{ event_type: string; tenant_id: string }[]>`SELECT event_type, tenant_id FROM auth_logs WHERE event_type = 'operator_created'`
    expect(created).toEqual({ event_type: 'operator_created', tenant_id: '00000000-0000-0000-0000-000000000000' })
    const stored = await db.sql`SELECT 1 FROM platform_operators WHERE token_sha256::text LIKE ${'%' + operator.token.slice(12, 30) + '%'}`
    expect(stored).toHaveLength(0)
  })

  it('refuse bad settings naming the field, and a taken slug', async () => {
    const bad = await json(send('POST', '/v1/platform/tenants', operator.token, { slug: 'Not A Slug', retention_days: 0 }))
    expect(bad.status).toBe(400)
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['retention_days', 'slug'])
    const policy = await json(send('POST', '/v1/platform/tenants', operator.token, { slug: 'policy', lockout_base_seconds: 600, lockout_max_seconds: 60 }))
    expect(policy).toMatchObject({ status: 400, body: { errors: [{ field: 'lockout_max_seconds' }] } })
    expect((await send('POST', '/v1/platform/tenants', operator.token, { slug: 'other' })).status).toBe(409)
    expect((await send('POST', '/v1/platform/tenants', operator.token, { slug: 'x', extra: 1 })).status).toBe(400)
  })
})

describe('from an empty tenant to managed users', () => {
  let tenantId: string
  let admin: string
  let adminId: string
  let bobId: string

  it('creates a tenant (invitations only by default) and records tenant_created with the operator as actor', async () => {
    const res = await json(send('POST', '/v1/platform/tenants', operator.token, { slug: 'acme', name: 'Acme', organisation_name: 'HQ', allowed_origins: ['https://app.acme.test'] }))
    expect(res.status).toBe(201)
    expect(res.body.tenant).toMatchObject({ slug: 'acme', name: 'Acme', registration_mode: 'invite', allowed_origins: ['https://app.acme.test'], retention_days: 365 })
    tenantId = res.body.tenant.id
    expect(await eventOf(res.body.event_id)).toMatchObject({ event_type: 'tenant_created', actor_id: operator.id, channel: 'admin', organisation_id: res.body.organisation.id, metadata: { actor_kind: 'operator', slug: 'acme', organisation_name: 'HQ' } })
    const list = await json(send('GET', '/v1/platform/tenants?limit=1', operator.token))
    expect(list.body.tenants).toHaveLength(1)
    const next = await json(send('GET', `/v1/platform/tenants?limit=10&cursor=${list.body.next_cursor}`, operator.token))
    expect([...list.body.tenants, ...next.body.tenants].map((x: { slug: string }) => x.slug).sort()).toEqual(['acme', 'other'])
  })

  it('changes the plan and the settings, each as its own event with from and to; an unchanged value records nothing', async () => {
    const res = await json(send('PATCH', `/v1/platform/tenants/${tenantId}`, operator.token, { retention_days: 30, can_download: true, name: 'Acme Corp', lockout_max_failures: 5 }))
    expect(res.status).toBe(200)
    expect(res.body.event_ids).toHaveLength(2)
    const [plan, settings] = await Promise.all(res.body.event_ids.map(eventOf))
    expect(plan).toMatchObject({ event_type: 'tenant_plan_changed', actor_id: operator.id, metadata: { actor_kind: 'operator', changes: { retention_days: { from: 365, to: 30 }, can_download: { from: false, to: true } } } })
    expect(Object.keys(plan!.metadata.changes).sort()).toEqual(['can_download', 'retention_days'])
    expect(settings).toMatchObject({ event_type: 'tenant_settings_changed', metadata: { changes: { name: { from: 'Acme', to: 'Acme Corp' } } } })
    expect((await json(send('PATCH', `/v1/platform/tenants/${tenantId}`, operator.token, { retention_days: 30 }))).body.event_ids).toEqual([])
    expect((await send('PATCH', `/v1/platform/tenants/${other.tenant.id.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}`, operator.token, { retention_days: 30 })).status).toBe(404)
  })

  it('anonymous registration is refused in an invite-only tenant and can never name an organisation', async () => {
    const anonymous = await json(postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'mallory@acme.test', password: 'a long enough password' }))
    expect(anonymous).toMatchObject({ status: 403, body: { code: 'registration_closed' } })
    expect(await eventOf(anonymous.body.event_id)).toMatchObject({ event_type: 'registration_failed', organisation_id: null })
    const named = await json(postJson(t.app, '/v1/auth/register', { tenant: 'other', organisation_id: other.organisationId, identifier: 'm@other.test', password: 'a long enough password' }))
    expect(named).toMatchObject({ status: 400, body: { code: 'validation_failed' } })
    expect(named.body.errors.map((e: { field: string }) => e.field)).toContain('organisation_id')
    expect(await db.sql`SELECT 1 FROM users WHERE identifier LIKE 'mallory%' OR identifier = 'm@other.test'`).toHaveLength(0)
  })

  it('invites the first administrator; the invitation places them, once', async () => {
    const invited = await json(send('POST', `/v1/platform/tenants/${tenantId}/invitations`, operator.token, { identifier: 'Admin@Acme.test', role: 'admin' }))
    expect(invited.status).toBe(201)
    expect(await eventOf(invited.body.event_id)).toMatchObject({ event_type: 'user_invited', actor_id: operator.id, metadata: { role: 'admin', actor_kind: 'operator' } })
    const wrongIdentifier = await json(postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'someone@acme.test', password: 'a long secret phrase', invitation: invited.body.invitation }))
    expect(wrongIdentifier).toMatchObject({ status: 400, body: { errors: [{ field: 'invitation' }] } })
    const accepted = await json(postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'admin@acme.test', password: 'a long secret phrase', invitation: invited.body.invitation }))
    expect(accepted.status).toBe(202)
    expect(await eventOf(accepted.body.event_id)).toMatchObject({ event_type: 'registration_succeeded', organisation_id: invited.body.organisation_id, metadata: { role: 'admin', invitation_id: invited.body.invitation_id } })
    const again = await json(postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'admin@acme.test', password: 'a long secret phrase', invitation: invited.body.invitation }))
    expect(again.status).toBe(400)
    const res = await login('acme', 'admin@acme.test', 'a long secret phrase')
    expect(res.status).toBe(200)
    admin = await bearerOf(res)
    adminId = (await db.sql<{ id: string }[]>`SELECT id FROM users WHERE identifier = 'admin@acme.test'`)[0]!.id
  })

  it('the administrator invites a user, lists users a page at a time, and sets roles with themself as actor', async () => {
    const invited = await json(send('POST', '/v1/admin/invitations', admin, { identifier: 'bob@acme.test', role: 'user' }))
    expect(invited.status).toBe(201)
    expect((await postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier: 'bob@acme.test', password: 'bob has a password', invitation: invited.body.invitation })).status).toBe(202)
    const first = await json(send('GET', '/v1/admin/users?limit=1', admin))
    expect(first.body.users).toHaveLength(1)
    const second = await json(send('GET', `/v1/admin/users?limit=1&cursor=${first.body.next_cursor}`, admin))
    expect(second.body).toMatchObject({ users: [{ identifier: 'bob@acme.test', role: 'user', status: 'active' }], next_cursor: null })
    bobId = second.body.users[0].id

    const promoted = await json(send('PUT', `/v1/admin/users/${bobId}/role`, admin, { role: 'auditor' }))
    expect(promoted).toMatchObject({ status: 200, body: { user: { role: 'auditor' } } })
    expect(await eventOf(promoted.body.event_id)).toMatchObject({ event_type: 'user_role_changed', actor_id: adminId, user_id: bobId, channel: 'admin', metadata: { actor_kind: 'admin', from: 'user', to: 'auditor' } })
    expect((await json(send('PUT', `/v1/admin/users/${bobId}/role`, admin, { role: 'auditor' }))).body.event_id).toBeNull()
    expect((await send('PUT', `/v1/admin/users/${bobId}/role`, admin, { role: 'operator' })).status).toBe(400)
  })

  it('refuses an administrator their own account, another tenant, and every non-administrator', async () => {
    expect(await json(send('PUT', `/v1/admin/users/${adminId}/role`, admin, { role: 'user' }))).toMatchObject({ status: 403 })
    expect((await send('POST', `/v1/admin/users/${adminId}/disable`, admin)).status).toBe(403)
    const bobOther = other.users['bob@other.test']!.id
    const before = await db.sql`SELECT count(*)::int AS n FROM auth_logs`
    expect((await send('PUT', `/v1/admin/users/${bobOther}/role`, admin, { role: 'admin' })).status).toBe(404)
    expect((await send('POST', `/v1/admin/users/${bobOther}/disable`, admin)).status).toBe(404)
    expect((await send('PUT', `/v1/admin/users/${bobId}/role`, otherAdmin, { role: 'admin' })).status).toBe(404)
    expect((await json(send('GET', '/v1/admin/users', otherAdmin))).body.users.map((u: { identifier: string }) => u.identifier).sort()).toEqual(['admin@other.test', 'bob@other.test'])
    expect(await db.sql`SELECT count(*)::int AS n FROM auth_logs`).toEqual(before)
    const bob = await bearerOf(await login('acme', 'bob@acme.test', 'bob has a password'))
    expect((await send('PUT', `/v1/admin/users/${adminId}/role`, bob, { role: 'user' })).status).toBe(403)
    expect((await send('GET', '/v1/admin/users', bob)).status).toBe(403)
    expect((await send('POST', '/v1/admin/organisations', bob, { name: 'rogue' })).status).toBe(403)
  })

  it('disables and enables a user: a disabled login fails like an unknown identifier; a demoted administrator is refused at once', async () => {
    const disabled = await json(postWith(t.app, `/v1/admin/users/${bobId}/disable`, admin))
    expect(disabled.body.user.status).toBe('disabled')
    expect(await eventOf(disabled.body.event_id)).toMatchObject({ event_type: 'user_disabled', actor_id: adminId, user_id: bobId })
    const refused = await json(login('acme', 'bob@acme.test', 'bob has a password'))
    expect(refused).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } })
    const enabled = await json(postWith(t.app, `/v1/admin/users/${bobId}/enable`, admin))
    expect(await eventOf(enabled.body.event_id)).toMatchObject({ event_type: 'user_enabled' })
    expect((await login('acme', 'bob@acme.test', 'bob has a password')).status).toBe(200)

    const organisation = await json(send('POST', '/v1/admin/organisations', admin, { name: 'Branch' }))
    expect(await eventOf(organisation.body.event_id)).toMatchObject({ event_type: 'organisation_created', actor_id: adminId })
    expect((await json(send('GET', '/v1/admin/organisations', admin))).body.organisations.map((o: { name: string }) => o.name)).toEqual(['Branch', 'HQ'])

    // A second administrator demotes the first: the first's still-valid token stops working at once.
    await db.sql`UPDATE users SET role = 'admin' WHERE id = ${bobId}`
    const bobAdmin = await bearerOf(await login('acme', 'bob@acme.test', 'bob has a password'))
    expect((await send('PUT', `/v1/admin/users/${adminId}/role`, bobAdmin, { role: 'user' })).status).toBe(200)
    // Refused whichever check sees it first: the session guard (401) or the current-role check (403).
    expect([401, 403]).toContain((await send('GET', '/v1/admin/users', admin)).status)
  })

  it('every change is in the chain, and the chain verifies', async () => {
    const types = await db.sql<{ event_type: string }[]>`SELECT DISTINCT event_type FROM auth_logs WHERE tenant_id = ${tenantId}`
    expect(types.map((r) => r.event_type)).toEqual(
      expect.arrayContaining(['login_failed', 'login_success', 'organisation_created', 'registration_failed', 'registration_succeeded', 'tenant_created', 'tenant_plan_changed', 'tenant_settings_changed', 'user_disabled', 'user_enabled', 'user_invited', 'user_role_changed']),
    )
    const auditor = await bearerOf(await login('acme', 'bob@acme.test', 'bob has a password'))
    const verify = await json(getWith(t.app, '/v1/audit/verify', auditor))
    expect(verify.body.ok).toBe(true)
  })
})
