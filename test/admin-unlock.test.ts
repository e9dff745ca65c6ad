import { beforeAll, describe, expect, it } from 'vitest'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, comparableProblem, getWith, postJson, postWith, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('admin_unlock')
const t = useTestApp(db)
const acme = useSeededTenant(db, {
  slug: 'acme',
  lockoutPolicy: { maxFailures: 3, baseLockSeconds: 900 },
  users: [{ identifier: 'alice@acme.test' }, { identifier: 'admin@acme.test', role: 'admin' }, { identifier: 'audit@acme.test', role: 'auditor' }],
})
let admin: string

beforeAll(async () => {
  admin = await bearerFor(t.tokens, acme, 'admin@acme.test')
})

const login = (password: string) => postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password })

describe('POST /v1/admin/lockouts/{identifier}/unlock', () => {
  it('clears a lockout so the right password works at once, and records lockout_reset with the admin as actor', async () => {
    for (let i = 0; i < 3; i++) await login('wrong password')
    expect((await login(acme.users['alice@acme.test']!.password)).status).toBe(423)

    const res = await postWith(t.app, '/v1/admin/lockouts/Alice%40ACME.test/unlock', admin, { 'x-forwarded-for': '10.0.0.7', 'user-agent': 'helpdesk-console' })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { status: string; event_id: string; previous: { failed_login_attempts: number; lockout_count: number } }
    expect(body).toMatchObject({ status: 'unlocked', identifier: 'alice@acme.test', previous: { failed_login_attempts: 4, lockout_count: 1 } })

    const [event] = await db.sql<{ event_type: string; reason: string; actor_id: string; channel: string; ip: string; user_agent: string; user_id: string; organisation_id: string }[]>`
      SELECT event_type, reason, actor_id, channel, ip, user_agent, user_id, organisation_id FROM auth_logs WHERE id = ${body.event_id}`
    expect(event).toEqual({
      event_type: 'lockout_reset',
      reason: 'admin_unlock',
      actor_id: acme.users['admin@acme.test']!.id,
      channel: 'admin',
      ip: '10.0.0.7',
      user_agent: 'helpdesk-console',
      user_id: acme.users['alice@acme.test']!.id,
      organisation_id: acme.organisationId,
    })
    // Same transaction, same rule as every event: its outbox row carries the cleared lockout state.
    const [outbox] = await db.sql<{ payload: { lockout: { failed_login_attempts: number; account_locked_until: string | null } } }[]>`
      SELECT payload FROM outbox WHERE event_id = ${body.event_id}`
    expect(outbox!.payload.lockout).toMatchObject({ failed_login_attempts: 0, account_locked_until: null })

    expect((await login(acme.users['alice@acme.test']!.password)).status).toBe(200)
    const verify = (await (await getWith(t.app, '/v1/audit/verify', admin)).json()) as { ok: boolean }
    expect(verify.ok).toBe(true)
  })

  it('writes nothing when there is nothing to clear', async () => {
    const before = await db.sql`SELECT count(*)::int AS n FROM auth_logs`
    const res = await postWith(t.app, '/v1/admin/lockouts/alice%40acme.test/unlock', admin)
    expect(await res.json()).toMatchObject({ status: 'not_locked', event_id: null })
    expect(await db.sql`SELECT count(*)::int AS n FROM auth_logs`).toEqual(before)
  })

  it('is 404 for an identifier never attempted, and refused to auditors and users', async () => {
    const missing = await postWith(t.app, '/v1/admin/lockouts/nobody%40acme.test/unlock', admin)
    expect(missing.status).toBe(404)
    expect(comparableProblem((await missing.json()) as Record<string, unknown>)).toMatchObject({ code: 'not_found' })
    const auditor = await bearerFor(t.tokens, acme, 'audit@acme.test')
    expect((await postWith(t.app, '/v1/admin/lockouts/alice%40acme.test/unlock', auditor)).status).toBe(403)
    const user = await bearerFor(t.tokens, acme, 'alice@acme.test')
    expect((await postWith(t.app, '/v1/admin/lockouts/alice%40acme.test/unlock', user)).status).toBe(403)
    expect((await postWith(t.app, '/v1/admin/lockouts/alice%40acme.test/unlock')).status).toBe(401)
  })
})
