import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bootstrapOperator } from '../src/admin/platform-operators.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { DEFAULT_DEFENCE_SETTINGS } from '../src/core/defence-policy.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { DEFAULT_ROLE_NAMES } from '../src/db/migrate.ts'
import { createTenantCache } from '../src/db/tenant-cache.ts'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, createTestApp, postJson, seedTenant, type SeededTenant, type TestApp } from './support/test-app.ts'

/**
 * A tenant's defence policy changed through the administration API, by its administrators and by platform
 * operators: validated whole, recorded as tenant_defence_policy_changed (actor, policy before and after)
 * in the change's transaction, applied by the database from that event (the runtime role has no UPDATE on
 * tenants), seen at once by the process's tenant cache, and never reaching another tenant.
 */

const db = useTestDatabase('defence_policy_admin')
let t: TestApp
let runtime: Sql
let operator: { id: string; token: string }
let acme: SeededTenant
let other: SeededTenant
const bearer: Record<string, string> = {}

const send = async (method: string, path: string, authorization: string | undefined, body?: unknown) => {
  const res = await t.app.request(path, {
    method,
    headers: { ...(authorization ? { authorization } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), 'user-agent': 'vitest' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}
const storedPolicy = async (tenantId: string) => (await db.sql<{ defence_policy: unknown }[]>`SELECT defence_policy FROM tenants WHERE id = ${tenantId}`)[0]!.defence_policy
const policyEvents = (tenantId: string) =>
  db.sql<{ id: string; actor_id: string | null; channel: string; organisation_id: string | null; metadata: any }[]>`
    SELECT id, actor_id, channel, organisation_id, metadata FROM auth_logs
    WHERE tenant_id = ${tenantId} AND event_type = 'tenant_defence_policy_changed' ORDER BY occurred_at, id`

beforeAll(async () => {
  const url = new URL(db.url)
  url.username = DEFAULT_ROLE_NAMES.runtime
  runtime = createSql(url.toString(), { max: 6 })
  // A cache that would keep a tenant for an hour: only invalidation can make a change seen.
  t = await createTestApp(runtime, { tenants: createTenantCache(runtime, { ttlMs: 3_600_000 }) })
  const result = await bootstrapOperator({ sql: db.sql, clock: () => new Date() }, 'ops')
  if (result.kind !== 'created') throw new Error('bootstrap failed')
  operator = { id: result.operator.id, token: `Bearer ${result.token}` }
  acme = await seedTenant(db.sql, {
    slug: 'acme',
    users: [{ identifier: 'admin@acme.test', role: 'admin' }, { identifier: 'auditor@acme.test', role: 'auditor' }, { identifier: 'user@acme.test' }],
  })
  other = await seedTenant(db.sql, { slug: 'other', users: [{ identifier: 'admin@other.test', role: 'admin' }, { identifier: 'bob@other.test' }] })
  for (const [seeded, identifier] of [[acme, 'admin@acme.test'], [acme, 'auditor@acme.test'], [acme, 'user@acme.test'], [other, 'admin@other.test']] as const) {
    bearer[identifier] = await bearerFor(t.tokens, seeded, identifier)
  }
})

afterAll(async () => {
  await runtime?.end()
})

describe('a tenant administrator', () => {
  it('changes the policy: one event with the actor and the policy before and after, applied from the event, and the chain verifies', async () => {
    // A tenant from before policies were written whole holds `{}`: every default.
    await db.sql`UPDATE tenants SET defence_policy = '{}' WHERE id = ${acme.tenant.id}`
    const res = await send('PATCH', '/v1/admin/defence-policy', bearer['admin@acme.test'], { lockout_mode: 'account_ip', allow_list: ['198.51.100.0/24'] })
    expect(res.status).toBe(200)
    const expected = { ...DEFAULT_DEFENCE_SETTINGS, lockout_mode: 'account_ip', allow_list: ['198.51.100.0/24'] }
    expect(res.body.defence_policy).toEqual(expected)
    expect(await storedPolicy(acme.tenant.id)).toEqual(expected)

    const events = await policyEvents(acme.tenant.id)
    expect(events).toHaveLength(1)
    expect(events[0]).toEqual({
      id: res.body.event_id,
      actor_id: acme.users['admin@acme.test']!.id,
      channel: 'admin',
      organisation_id: null,
      metadata: { actor_kind: 'admin', from: {}, to: expected },
    })
    const outbox = await db.sql`SELECT 1 FROM outbox WHERE event_id = ${res.body.event_id}`
    expect(outbox).toHaveLength(1)
    expect((await verifyTenantChain(db.sql, acme.tenant.id, nodeDigester)).ok).toBe(true)

    const read = await send('GET', '/v1/admin/defence-policy', bearer['auditor@acme.test'])
    expect(read).toEqual({ status: 200, body: { defence_policy: expected } })
  })

  it('writes nothing when nothing changes', async () => {
    const before = (await policyEvents(acme.tenant.id)).length
    const res = await send('PATCH', '/v1/admin/defence-policy', bearer['admin@acme.test'], { lockout_mode: 'account_ip' })
    expect(res.status).toBe(200)
    expect(res.body.event_id).toBeNull()
    expect(await policyEvents(acme.tenant.id)).toHaveLength(before)
  })

  it('is refused a policy that does not hold together, naming the field, and nothing is written', async () => {
    const before = { policy: await storedPolicy(acme.tenant.id), events: (await policyEvents(acme.tenant.id)).length }
    const cases: [unknown, string][] = [
      [{ spray_failure_budget: 101 }, 'spray_failure_budget'],
      [{ ip_failure_budget: 10 }, 'spray_failure_budget'],
      [{ allow_list: ['10.0.0.0/33'] }, 'allow_list.0'],
      [{ lockout_mode: 'ip' }, 'lockout_mode'],
      [{ ip_window_seconds: 59 }, 'ip_window_seconds'],
      [{ budget: 5 }, 'budget'],
    ]
    for (const [body, field] of cases) {
      const res = await send('PATCH', '/v1/admin/defence-policy', bearer['admin@acme.test'], body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.code).toBe('validation_failed')
      expect(res.body.errors.map((e: { field: string }) => e.field), JSON.stringify(body)).toContain(field)
    }
    expect(await storedPolicy(acme.tenant.id)).toEqual(before.policy)
    expect(await policyEvents(acme.tenant.id)).toHaveLength(before.events)
  })

  it('alone may change it: auditors read it, users neither, and without a token nothing', async () => {
    expect((await send('PATCH', '/v1/admin/defence-policy', bearer['auditor@acme.test'], { ip_failure_budget: 50 })).status).toBe(403)
    expect((await send('PATCH', '/v1/admin/defence-policy', bearer['user@acme.test'], { ip_failure_budget: 50 })).status).toBe(403)
    expect((await send('GET', '/v1/admin/defence-policy', bearer['user@acme.test'])).status).toBe(403)
    expect((await send('PATCH', '/v1/admin/defence-policy', undefined, { ip_failure_budget: 50 })).status).toBe(401)
    expect((await send('GET', '/v1/admin/defence-policy', undefined)).status).toBe(401)
    expect((await storedPolicy(acme.tenant.id)) as { ip_failure_budget: number }).toMatchObject({ ip_failure_budget: 100 })
  })

  it("changes only their own tenant and cannot use the operators' route", async () => {
    const acmeBefore = await storedPolicy(acme.tenant.id)
    const acmeEvents = (await policyEvents(acme.tenant.id)).length
    const res = await send('PATCH', '/v1/admin/defence-policy', bearer['admin@other.test'], { ip_failure_budget: 40, spray_failure_budget: 4 })
    expect(res.status).toBe(200)
    expect(await storedPolicy(other.tenant.id)).toMatchObject({ ip_failure_budget: 40, spray_failure_budget: 4 })
    expect(await policyEvents(other.tenant.id)).toHaveLength(1)
    expect((await send('PATCH', `/v1/platform/tenants/${acme.tenant.id}/defence-policy`, bearer['admin@other.test'], { ip_failure_budget: 1 })).status).toBe(401)
    expect((await send('PATCH', `/v1/platform/tenants/${acme.tenant.id}/defence-policy`, bearer['admin@acme.test'], { ip_failure_budget: 1 })).status).toBe(401)
    expect(await storedPolicy(acme.tenant.id)).toEqual(acmeBefore)
    expect(await policyEvents(acme.tenant.id)).toHaveLength(acmeEvents)
    expect((await send('GET', '/v1/admin/defence-policy', bearer['admin@other.test'])).body.defence_policy).toMatchObject({ ip_failure_budget: 40, lockout_mode: 'account' })
  })
})

describe('a platform operator', () => {
  it("changes a tenant's policy, recorded with the operator as actor; an unknown tenant is 404", async () => {
    const res = await send('PATCH', `/v1/platform/tenants/${other.tenant.id}/defence-policy`, operator.token, { known_address_days: 30 })
    expect(res.status).toBe(200)
    const events = await policyEvents(other.tenant.id)
    expect(events.at(-1)).toMatchObject({ id: res.body.event_id, actor_id: operator.id, metadata: { actor_kind: 'operator', from: { known_address_days: 90 }, to: { known_address_days: 30, ip_failure_budget: 40 } } })
    expect((await send('PATCH', '/v1/platform/tenants/0193779a-0c1d-7e2f-8a3b-4c5d6e7f8091/defence-policy', operator.token, { known_address_days: 30 })).status).toBe(404)
    expect((await send('PATCH', `/v1/platform/tenants/${other.tenant.id}/defence-policy`, undefined, { known_address_days: 30 })).status).toBe(401)
  })
})

describe('the database', () => {
  it('refuses the runtime role a policy change without its event', async () => {
    await expect(runtime`UPDATE tenants SET defence_policy = '{"ip_failure_budget": 1}' WHERE id = ${acme.tenant.id}`).rejects.toMatchObject({ code: '42501' })
  })

  it('applies concurrent changes one after the other, each event naming the policy it replaced', async () => {
    const before = (await policyEvents(acme.tenant.id)).length
    const changes = [{ ip_failure_budget: 90 }, { spray_accounts: 7 }, { known_address_days: 60 }, { ip_window_seconds: 1800 }]
    const answers = await Promise.all(changes.map((change) => send('PATCH', '/v1/admin/defence-policy', bearer['admin@acme.test'], change)))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200])
    expect(await storedPolicy(acme.tenant.id)).toMatchObject({ ip_failure_budget: 90, spray_accounts: 7, known_address_days: 60, ip_window_seconds: 1800, lockout_mode: 'account_ip' })
    const events = (await policyEvents(acme.tenant.id)).slice(before)
    expect(events).toHaveLength(4)
    // Applied in sequence: each event's `from` is the previous one's `to`.
    for (let i = 1; i < events.length; i++) expect(events[i]!.metadata.from).toEqual(events[i - 1]!.metadata.to)
    expect((await verifyTenantChain(db.sql, acme.tenant.id, nodeDigester)).ok).toBe(true)
  })
})

describe('the tenant cache', () => {
  it('sees a change at once: a tighter budget throttles the next failure', async () => {
    const attempt = () => postJson(t.app, '/v1/auth/login', { tenant: 'other', identifier: 'bob@other.test', password: 'wrong-password-long-enough' })
    // The first failure reads the tenant into the cache (budget 40): answered 401.
    expect((await attempt()).status).toBe(401)
    const res = await send('PATCH', '/v1/admin/defence-policy', bearer['admin@other.test'], { ip_failure_budget: 1, spray_failure_budget: 1 })
    expect(res.status).toBe(200)
    // Cached for an hour, the old budget would answer 401 again; the new one has been spent by the first failure.
    const throttled = await attempt()
    expect(throttled.status).toBe(429)
    expect(throttled.headers.get('retry-after')).not.toBeNull()
  })
})
