import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SYSTEM_ACTOR } from '../src/admin/admin-actor.ts'
import { purgeExpiredEvents } from '../src/admin/purge-expired-events.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { DEFAULT_ROLE_NAMES } from '../src/db/migrate.ts'
import { useTestDatabase } from './support/database.ts'
import { postJson, useSeededTenant, useTestApp } from './support/test-app.ts'

/**
 * The retention job removes address throttle rows that no longer say anything (no episode in progress,
 * both budgets refilled, no failed account within the window), and only those, as the retention role.
 */

const db = useTestDatabase('ip_throttle_retention')
const t = useTestApp(db)
const MINUTE = 60_000
const lockoutPolicy = { maxFailures: 50, windowSeconds: 900, baseLockSeconds: 60, multiplier: 2, maxLockSeconds: 600 }
// 10 failures an hour: each failure is refilled after 6 minutes.
const acme = useSeededTenant(db, {
  slug: 'acme',
  lockoutPolicy,
  defencePolicy: { ip_failure_budget: 10, ip_window_seconds: 3600, spray_accounts: 10_000, spray_failure_budget: 10 },
  users: [{ identifier: 'alice@acme.test' }],
})
const other = useSeededTenant(db, { slug: 'other', lockoutPolicy, users: [{ identifier: 'bob@other.test' }] })
let retention: Sql

const failFrom = (tenant: string, identifier: string, ip: string, at: Date) => {
  t.clock.now = at
  return postJson(t.app, '/v1/auth/login', { tenant, identifier, password: 'wrong password' }, { 'x-forwarded-for': ip })
}
const networks = async (tenantId: string) =>
  (await db.sql<{ network: string }[]>`SELECT network FROM ip_throttles WHERE tenant_id = ${tenantId} ORDER BY network`).map((r) => r.network)
const failedAccountNetworks = async (tenantId: string) =>
  (await db.sql<{ network: string }[]>`SELECT DISTINCT network FROM ip_failed_accounts WHERE tenant_id = ${tenantId} ORDER BY network`).map((r) => r.network)

beforeAll(async () => {
  const url = new URL(db.url)
  url.username = DEFAULT_ROLE_NAMES.retention
  retention = createSql(url.toString(), { max: 2 })
})

afterAll(async () => {
  await retention?.end()
})

describe('idle address throttle rows', () => {
  it('are removed by the retention purge; a network throttled, holding budget or remembered for spraying stays', async () => {
    const now = Date.now()
    // Idle: one failure two hours ago (refilled after 6 minutes, out of the 1 h window long since).
    expect((await failFrom('acme', 'alice@acme.test', '203.0.113.1', new Date(now - 120 * MINUTE))).status).toBe(401)
    // Holding budget: a failure a minute ago.
    expect((await failFrom('acme', 'alice@acme.test', '203.0.113.2', new Date(now - MINUTE))).status).toBe(401)
    // Refilled, but a failed account 30 minutes ago is still within the window (spraying memory).
    expect((await failFrom('acme', 'ghost@acme.test', '203.0.113.3', new Date(now - 30 * MINUTE))).status).toBe(401)
    // Throttled now: the budget of 10 spent, the 11th refused.
    for (let i = 0; i < 10; i++) expect((await failFrom('acme', 'alice@acme.test', '203.0.113.4', new Date(now))).status).toBe(401)
    expect((await failFrom('acme', 'alice@acme.test', '203.0.113.4', new Date(now))).status).toBe(429)
    // Another tenant's idle row: only that tenant's purge removes it.
    expect((await failFrom('other', 'bob@other.test', '203.0.113.1', new Date(now - 10 * 86_400_000))).status).toBe(401)
    t.clock.now = null

    expect(await networks(acme.tenant.id)).toEqual(['203.0.113.1/32', '203.0.113.2/32', '203.0.113.3/32', '203.0.113.4/32'])
    expect(await failedAccountNetworks(acme.tenant.id)).toEqual(['203.0.113.1/32', '203.0.113.2/32', '203.0.113.3/32', '203.0.113.4/32'])

    // Nothing of acme has expired: the purge writes no event, yet the idle row goes, with its failed accounts.
    const result = await purgeExpiredEvents({ sql: retention, clock: () => new Date(), signer: null }, { tenant: acme.tenant, before: new Date(), actor: SYSTEM_ACTOR })
    expect(result.event_id).toBeNull()
    expect(await networks(acme.tenant.id)).toEqual(['203.0.113.2/32', '203.0.113.3/32', '203.0.113.4/32'])
    expect(await failedAccountNetworks(acme.tenant.id)).toEqual(['203.0.113.2/32', '203.0.113.3/32', '203.0.113.4/32'])
    expect(await networks(other.tenant.id)).toEqual(['203.0.113.1/32'])

    // The network starts afresh: its next failure is counted from an empty state.
    expect((await failFrom('acme', 'alice@acme.test', '203.0.113.1', new Date())).status).toBe(401)
    t.clock.now = null
    const [row] = await db.sql<{ episode_count: number; episode_started_at: Date | null }[]>`
      SELECT episode_count, episode_started_at FROM ip_throttles WHERE tenant_id = ${acme.tenant.id} AND network = '203.0.113.1/32'`
    expect(row).toEqual({ episode_count: 0, episode_started_at: null })
  })

  it('are not the runtime role’s to remove', async () => {
    const url = new URL(db.url)
    url.username = DEFAULT_ROLE_NAMES.runtime
    const runtime = createSql(url.toString(), { max: 1 })
    try {
      await expect(runtime`DELETE FROM ip_throttles WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject({ code: '42501' })
    } finally {
      await runtime.end()
    }
  })
})
