import { describe, expect, it } from 'vitest'
import { useTestDatabase } from './support/database.ts'
import { appendEvents } from './support/outbox-fixtures.ts'
import { bearerFor, useSeededTenant, useTestApp } from './support/test-app.ts'

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
