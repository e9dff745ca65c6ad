import { describe, expect, it } from 'vitest'
import { lockTenantVerification } from '../src/audit/verification-lock.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { DEFAULT_ROLE_NAMES } from '../src/db/migrate.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents } from './support/outbox-fixtures.ts'
import { bearerFor, createTestApp, useSeededTenant, useTestApp } from './support/test-app.ts'

// GET /v1/audit/verify re-reads the whole trail: one verification runs at a time per tenant, and a call
// made meanwhile joins it (same answer, one verification recorded) instead of starting another.

const db = useTestDatabase('verify_single_flight')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', chainShards: 4, users: [{ identifier: 'auditor@acme.test', role: 'auditor' }, { identifier: 'admin@acme.test', role: 'admin' }] })

const verifications = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM chain_verifications WHERE tenant_id = ${acme.tenant.id}`)[0]!.n

describe('GET /v1/audit/verify', () => {
  it('concurrent calls for one tenant join one verification; a later call runs its own', async () => {
    for (const shard of [0, 1, 2, 3]) await appendEvents(db.sql, acme.tenant, shard, 400)
    const auditor = await bearerFor(t.tokens, acme, 'auditor@acme.test')
    const admin = await bearerFor(t.tokens, acme, 'admin@acme.test')
    const before = await verifications()
    const answers = await Promise.all([auditor, admin, auditor].map((authorization) => t.app.request('/v1/audit/verify', { headers: { authorization } })))
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200])
    const bodies = await Promise.all(answers.map((r) => r.json() as Promise<{ ok: boolean; verified_events: number }>))
    expect(bodies[0]).toMatchObject({ ok: true, verified_events: 1600 })
    expect(bodies[1]).toEqual(bodies[0])
    expect(bodies[2]).toEqual(bodies[0])
    expect(await verifications()).toBe(before + 1)

    const again = await t.app.request('/v1/audit/verify', { headers: { authorization: auditor } })
    expect(again.status).toBe(200)
    expect(await verifications()).toBe(before + 2)
  })
})

describe('GET /v1/audit/verify across instances', () => {
  /** Verification locks ('autv') held in the database right now. */
  const advisoryLocksHeld = async () =>
    (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x61757476} AND granted`)[0]!.n
  /** A pool of its own, as the service connects: as the runtime role. */
  const runtimePool = (): Sql => createSql(Object.assign(new URL(db.url), { username: DEFAULT_ROLE_NAMES.runtime }).toString(), { max: 4 })

  it('while another instance verifies the tenant, a call is answered 409 naming that verification, with Retry-After; once it ends, the call verifies', async () => {
    const pools = [runtimePool(), runtimePool(), runtimePool()]
    try {
      const [one, two] = await Promise.all([createTestApp(pools[0]!), createTestApp(pools[1]!)])
      const auditor = await bearerFor(t.tokens, acme, 'auditor@acme.test')
      const admin = acme.users['admin@acme.test']!
      // A third instance (its own pool, the runtime role) is verifying the tenant: it holds the lock.
      const other = await lockTenantVerification(pools[2]!, { tenantId: acme.tenant.id, startedBy: admin.id, via: 'api', now: new Date('2026-12-04T10:00:00Z') })
      expect(other.kind).toBe('held')
      expect(await advisoryLocksHeld()).toBe(1)
      const before = await verifications()
      for (const instance of [one, two]) {
        const refused = await instance.app.request('/v1/audit/verify', { headers: { authorization: auditor } })
        expect(refused.status).toBe(409)
        expect(refused.headers.get('content-type')).toBe('application/problem+json')
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
        const body = (await refused.json()) as { code: string; detail: string }
        expect(body.code).toBe('verification_running')
        expect(body.detail).toContain('2026-12-04T10:00:00.000Z')
        expect(body.detail).toContain(admin.id)
      }
      expect(await verifications()).toBe(before)
      if (other.kind === 'held') await other.release()
      const verified = await one.app.request('/v1/audit/verify', { headers: { authorization: auditor } })
      expect(verified.status).toBe(200)
      expect(await verifications()).toBe(before + 1)
    } finally {
      await Promise.all(pools.map((p) => p.end()))
    }
  })

  it('two instances asked at once: one verification at a time, every answer a result or 409, each result recorded once', async () => {
    const pools = [runtimePool(), runtimePool()]
    try {
      const instances = await Promise.all(pools.map((p) => createTestApp(p)))
      const auditor = await bearerFor(t.tokens, acme, 'auditor@acme.test')
      const before = await verifications()
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => instances[i % 2]!.app.request('/v1/audit/verify', { headers: { authorization: auditor } })),
      )
      const statuses = answers.map((r) => r.status)
      expect(statuses.every((s) => s === 200 || s === 409)).toBe(true)
      expect(statuses).toContain(200)
      // Each instance's concurrent calls joined its own verification: at most one ran per instance.
      const ran = (await verifications()) - before
      expect(ran).toBeGreaterThanOrEqual(1)
      expect(ran).toBeLessThanOrEqual(2)
      // The lock is free again: nobody holds it.
      expect(await advisoryLocksHeld()).toBe(0)
    } finally {
      await Promise.all(pools.map((p) => p.end()))
    }
  })
})
