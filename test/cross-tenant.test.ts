import { beforeAll, describe, expect, it } from 'vitest'
import type { IncidentReport } from '../src/investigation/incident-report.ts'
import type { EventVolumes } from '../src/investigation/event-volumes.ts'
import type { InvestigatedEvent } from '../src/investigation/query-events.ts'
import { createServiceMetrics } from '../src/metrics/service-metrics.ts'
import { useTestDatabase } from './support/database.ts'
import { recordTestEvents } from './support/test-events.ts'
import { bearerFor, comparableProblem, getWith, postJson, postWith, seedTenant, useTestApp, type SeededTenant } from './support/test-app.ts'

/**
 * Every route of the investigation and compliance API, asked by one tenant about another tenant's data:
 * the answer must be exactly what it is for data that does not exist, and never carry the other
 * tenant's events.
 */

const DAY = 86_400_000
const T0 = new Date(Math.floor((Date.now() - 1_800_000) / 60_000) * 60_000)
const WINDOW = `from=${encodeURIComponent(new Date(T0.getTime() - 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(T0.getTime() + 3_600_000).toISOString())}`

const db = useTestDatabase('cross_tenant')
const t = useTestApp(db, (db) => ({ metrics: createServiceMetrics({ sql: db.sql, defaultMetrics: false }) }))
let alpha: SeededTenant
let beta: SeededTenant
let alphaAdmin: string
let betaAdmin: string

async function json<T>(res: Response | Promise<Response>): Promise<{ status: number; body: T }> {
  const r = await res
  return { status: r.status, body: (await r.json()) as T }
}

async function idsOf(tenantId: string): Promise<Set<string>> {
  return new Set((await db.sql<{ id: string }[]>`SELECT id FROM auth_logs WHERE tenant_id = ${tenantId}`).map((r) => r.id))
}

beforeAll(async () => {
  const policy = { maxFailures: 2, baseLockSeconds: 86_400 }
  alpha = await seedTenant(db.sql, { slug: 'alpha', canDownload: true, retentionDays: 7, lockoutPolicy: policy, users: [{ identifier: 'victim@alpha.test' }, { identifier: 'admin@alpha.test', role: 'admin' }] })
  beta = await seedTenant(db.sql, { slug: 'beta', canDownload: true, retentionDays: 7, lockoutPolicy: policy, users: [{ identifier: 'carol@beta.test' }, { identifier: 'admin@beta.test', role: 'admin' }] })
  alphaAdmin = await bearerFor(t.tokens, alpha, 'admin@alpha.test')
  betaAdmin = await bearerFor(t.tokens, beta, 'admin@beta.test')

  // alpha: expired events, then a brute force that locks victim@alpha.test and a success after failures.
  await recordTestEvents(db.sql, alpha.tenant, Array.from({ length: 5 }, (_, i) => ({ at: new Date(Date.now() - 30 * DAY + i), identifier: `old${i}@alpha.test`, ip: '198.51.100.77' })))
  t.clock.now = new Date(T0)
  for (let i = 0; i < 3; i++) {
    t.clock.advance(1000)
    await postJson(t.app, '/v1/auth/login', { tenant: 'alpha', identifier: 'victim@alpha.test', password: `nope-${i}` }, { 'x-forwarded-for': '203.0.113.66' })
  }
  // beta: a little traffic of its own in the same window.
  for (let i = 0; i < 2; i++) {
    t.clock.advance(1000)
    await postJson(t.app, '/v1/auth/login', { tenant: 'beta', identifier: 'carol@beta.test', password: `nope-${i}` }, { 'x-forwarded-for': '192.0.2.200' })
  }
  t.clock.now = null
})

describe('another tenant is indistinguishable from nothing', () => {
  it('GET /v1/investigation/events', async () => {
    const victimId = alpha.users['victim@alpha.test']!.id
    for (const query of [`identifier=victim%40alpha.test`, `user_id=${victimId}`, 'ip=203.0.113.66', `ip=${encodeURIComponent('203.0.113.0/24')}`]) {
      const theirs = await json<{ events: unknown[]; next_cursor: null }>(getWith(t.app, `/v1/investigation/events?${query}`, betaAdmin))
      expect(theirs, query).toEqual({ status: 200, body: { events: [], next_cursor: null } })
      const own = await json<{ events: unknown[] }>(getWith(t.app, `/v1/investigation/events?${query}`, alphaAdmin))
      expect(own.body.events.length, query).toBeGreaterThan(0)
    }
    const all = await json<{ events: InvestigatedEvent[] }>(getWith(t.app, '/v1/investigation/events?limit=1000', betaAdmin))
    expect(new Set(all.body.events.map((e) => e.id))).toEqual(await idsOf(beta.tenant.id))
  })

  it('GET /v1/investigation/lockouts/{identifier}', async () => {
    const theirs = await json<Record<string, unknown>>(getWith(t.app, '/v1/investigation/lockouts/victim%40alpha.test', betaAdmin))
    const nothing = await json<Record<string, unknown>>(getWith(t.app, '/v1/investigation/lockouts/victim%40beta.test', betaAdmin))
    expect(theirs.status).toBe(404)
    expect({ ...theirs, body: comparableProblem(theirs.body) }).toEqual({ ...nothing, body: comparableProblem(nothing.body) })
    expect((await getWith(t.app, '/v1/investigation/lockouts/victim%40alpha.test', alphaAdmin)).status).toBe(200)
  })

  it('GET /v1/investigation/lockouts/{identifier}/diagnostics', async () => {
    const theirs = await json<{ lockouts: unknown[] }>(getWith(t.app, '/v1/investigation/lockouts/victim%40alpha.test/diagnostics', betaAdmin))
    expect(theirs).toEqual({ status: 200, body: { identifier: 'victim@alpha.test', lockouts: [] } })
    const own = await json<{ lockouts: unknown[] }>(getWith(t.app, '/v1/investigation/lockouts/victim%40alpha.test/diagnostics', alphaAdmin))
    expect(own.body.lockouts).toHaveLength(1)
  })

  it('GET /v1/investigation/incident-report', async () => {
    const theirs = await json<IncidentReport>(getWith(t.app, `/v1/investigation/incident-report?${WINDOW}&min_failures=1`, betaAdmin))
    expect(theirs.status).toBe(200)
    expect(theirs.body.totals).toMatchObject({ failures: 2, lockouts: 1, targeted_accounts: 1, source_ips: 1 })
    expect(theirs.body.targeted_accounts.map((a) => a.identifier)).toEqual(['carol@beta.test'])
    expect(JSON.stringify(theirs.body)).not.toMatch(/alpha|203\.0\.113\.66/)
    const own = await json<IncidentReport>(getWith(t.app, `/v1/investigation/incident-report?${WINDOW}`, alphaAdmin))
    expect(own.body.targeted_accounts.map((a) => a.identifier)).toEqual(['victim@alpha.test'])
    expect(JSON.stringify(own.body)).not.toMatch(/beta|192\.0\.2\.200/)
  })

  it('GET /v1/investigation/volumes', async () => {
    const theirs = await json<EventVolumes>(getWith(t.app, `/v1/investigation/volumes?${WINDOW}&interval=1h`, betaAdmin))
    const total = theirs.body.buckets.reduce((n, b) => n + b.events, 0)
    expect(total).toBe((await idsOf(beta.tenant.id)).size)
  })

  it('POST /v1/admin/lockouts/{identifier}/unlock', async () => {
    const theirs = await json<Record<string, unknown>>(postWith(t.app, '/v1/admin/lockouts/victim%40alpha.test/unlock', betaAdmin))
    const nothing = await json<Record<string, unknown>>(postWith(t.app, '/v1/admin/lockouts/victim%40beta.test/unlock', betaAdmin))
    expect(theirs.status).toBe(404)
    expect({ ...theirs, body: comparableProblem(theirs.body) }).toEqual({ ...nothing, body: comparableProblem(nothing.body) })
    const [state] = await db.sql`SELECT account_locked_until > now() AS locked FROM account_lockouts WHERE tenant_id = ${alpha.tenant.id} AND identifier = 'victim@alpha.test'`
    expect(state).toEqual({ locked: true })
  })

  it('GET /v1/admin/export', async () => {
    const res = await getWith(t.app, '/v1/admin/export?format=ndjson', betaAdmin)
    expect(res.status).toBe(200)
    const exported = new Set((await res.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string; tenant_id: string }).id))
    const betaIds = await idsOf(beta.tenant.id)
    for (const id of exported) expect(betaIds.has(id)).toBe(true)
    const alphaIds = await idsOf(alpha.tenant.id)
    for (const id of exported) expect(alphaIds.has(id)).toBe(false)
    // Every beta event before the export (its own audit event is at the range's exclusive end).
    betaIds.delete(res.headers.get('x-audit-event-id')!)
    expect(exported).toEqual(betaIds)
  })

  it("POST /v1/admin/retention/purge touches only the caller's tenant", async () => {
    const alphaBefore = await idsOf(alpha.tenant.id)
    const theirs = await json<{ purged_events: number }>(postWith(t.app, '/v1/admin/retention/purge', betaAdmin))
    expect(theirs.body.purged_events).toBe(0)
    expect(await idsOf(alpha.tenant.id)).toEqual(alphaBefore)
    const own = await json<{ purged_events: number }>(postWith(t.app, '/v1/admin/retention/purge', alphaAdmin))
    expect(own.body.purged_events).toBe(5)
  })

  it("GET /v1/audit/verify verifies only the caller's chains, unaffected by another tenant's break", async () => {
    await db.sql.begin(async (tx) => {
      await tx`ALTER TABLE auth_logs DISABLE TRIGGER auth_logs_append_only`
      await tx`UPDATE auth_logs SET ip = '6.6.6.6' WHERE tenant_id = ${alpha.tenant.id} AND identifier = 'victim@alpha.test' AND event_type = 'account_locked'`
      await tx`ALTER TABLE auth_logs ENABLE TRIGGER auth_logs_append_only`
    })
    const theirs = await json<{ ok: boolean; verified_events: number }>(getWith(t.app, '/v1/audit/verify', betaAdmin))
    expect(theirs.body).toMatchObject({ ok: true, verified_events: (await idsOf(beta.tenant.id)).size })
    const own = await json<{ ok: boolean; first_break: { reason: string } }>(getWith(t.app, '/v1/audit/verify', alphaAdmin))
    expect(own.body.ok).toBe(false)
    expect(own.body.first_break.reason).toBe('digest_mismatch')
  })

  it('GET /metrics carries no tenant, identifier or address', async () => {
    const res = await getWith(t.app, '/metrics')
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).toContain('authtrail_accounts_locked 2')
    for (const secret of [alpha.tenant.id, beta.tenant.id, 'alpha', 'beta', 'victim', '203.0.113.66']) expect(text).not.toContain(secret)
  })

  it('a token for a tenant that does not exist is refused everywhere (it names no session)', async () => {
    const admin = beta.users['admin@beta.test']!
    const iat = Math.floor(Date.now() / 1000)
    // Signed with the service's own key: only the per-request session check stands in its way.
    const token = await t.deps.tokens.issue({ sub: admin.id, tid: '0190aaaa-0000-7000-8000-000000000000', org: beta.organisationId, role: 'admin', jti: crypto.randomUUID(), sid: crypto.randomUUID(), iat, exp: iat + 600 })
    const auth = `Bearer ${token}`
    expect((await getWith(t.app, '/v1/investigation/events', auth)).status).toBe(401)
    expect((await getWith(t.app, '/v1/investigation/lockouts/victim%40alpha.test', auth)).status).toBe(401)
    expect((await postWith(t.app, '/v1/admin/lockouts/victim%40alpha.test/unlock', auth)).status).toBe(401)
    expect((await getWith(t.app, '/v1/admin/export', auth)).status).toBe(401)
    expect((await getWith(t.app, '/v1/audit/verify', auth)).status).toBe(401)
  })
})
