import { Counter, Registry } from 'prom-client'
import { beforeAll, describe, expect, it } from 'vitest'
import type { EventVolumes } from '../src/investigation/event-volumes.ts'
import { createServiceMetrics, type ServiceMetrics } from '../src/metrics/service-metrics.ts'
import { useTestDatabase, type TestDatabase } from './support/database.ts'
import { recordTestEvents } from './support/test-events.ts'
import { bearerFor, getWith, postJson, useSeededTenant, useTestApp } from './support/test-app.ts'

const T0 = Date.parse('2026-11-20T12:00:00.000Z')

/** The service's metrics with a contributed counter and a relay registry of its own, as the service is wired. */
function serviceMetrics(db: TestDatabase): ServiceMetrics {
  const relay = new Registry()
  new Counter({ name: 'authtrail_relay_delivered_total', help: 'relay test metric', registers: [relay] }).inc(3)
  const metrics = createServiceMetrics({ sql: db.sql, defaultMetrics: false, contributors: [(r) => void new Counter({ name: 'authtrail_contributed_total', help: 'x', registers: [r] })] })
  metrics.addRegistry(relay)
  return metrics
}

const db = useTestDatabase('inv_metrics')
/** The app as served: createApp mounts the metrics middleware before every route. */
const t = useTestApp(db, (db) => ({ metrics: serviceMetrics(db) }))
const acme = useSeededTenant(db, { slug: 'acme', lockoutPolicy: { maxFailures: 2 }, users: [{ identifier: 'alice@acme.test' }, { identifier: 'admin@acme.test', role: 'admin' }] })
let admin: string

beforeAll(async () => {
  admin = await bearerFor(t.tokens, acme, 'admin@acme.test')
  // Three 10-minute buckets: 4 failures + 1 success, nothing, 2 successes and a lockout.
  await recordTestEvents(db.sql, acme.tenant, [
    ...[0, 1, 2, 3].map((i) => ({ at: new Date(T0 + i * 60_000), identifier: 'x@acme.test', ip: `192.0.2.${i}` })),
    { at: new Date(T0 + 5 * 60_000), identifier: 'y@acme.test', eventType: 'login_success' as const, ip: '192.0.2.0' },
    { at: new Date(T0 + 21 * 60_000), identifier: 'y@acme.test', eventType: 'login_success' as const, ip: '192.0.2.9' },
    { at: new Date(T0 + 22 * 60_000), identifier: 'z@acme.test', eventType: 'login_success' as const, ip: '192.0.2.9', channel: 'mobile' as const },
    { at: new Date(T0 + 23 * 60_000), identifier: 'x@acme.test', eventType: 'account_locked' as const, ip: '192.0.2.9' },
  ])
})

describe('GET /v1/investigation/volumes', () => {
  it('gives every bucket, empty ones as zeros, with failure rates', async () => {
    const from = new Date(T0).toISOString()
    const to = new Date(T0 + 30 * 60_000).toISOString()
    const res = await getWith(t.app, `/v1/investigation/volumes?from=${from}&to=${to}&interval=5m`, admin)
    expect(res.status).toBe(200)
    const body = (await res.json()) as EventVolumes
    expect(body.interval_seconds).toBe(300)
    expect(body.buckets.map((b) => [b.start.slice(11, 16), b.login_attempts, b.failures, b.successes, b.failure_rate, b.lockouts, b.distinct_source_ips])).toEqual([
      ['12:00', 4, 4, 0, 1, 0, 4],
      ['12:05', 1, 0, 1, 0, 0, 1],
      ['12:10', 0, 0, 0, null, 0, 0],
      ['12:15', 0, 0, 0, null, 0, 0],
      ['12:20', 2, 0, 2, 0, 1, 1],
      ['12:25', 0, 0, 0, null, 0, 0],
    ])
    const mobile = (await (await getWith(t.app, `/v1/investigation/volumes?from=${from}&to=${to}&interval=1h&channel=mobile`, admin)).json()) as EventVolumes
    expect(mobile.buckets).toHaveLength(1)
    expect(mobile.buckets[0]).toMatchObject({ successes: 1, events: 1 })
  })

  it('refuses more buckets than allowed', async () => {
    const res = await getWith(t.app, '/v1/investigation/volumes?from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=1m', admin)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('interval')
  })
})

describe('GET /metrics', () => {
  it('counts login attempts by outcome, times requests by route pattern, reads locked accounts, and includes the relay', async () => {
    const login = (password: string) => postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password })
    expect((await login(acme.users['alice@acme.test']!.password)).status).toBe(200)
    expect((await login('wrong')).status).toBe(401)
    expect((await login('wrong')).status).toBe(423)
    expect((await postJson(t.app, '/v1/mobile/auth/login', { tenant: 'acme' })).status).toBe(400)
    await t.app.request('/v1/investigation/lockouts/alice%40acme.test', { headers: { authorization: admin } })

    const res = await t.app.request('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(text).toContain('authtrail_login_attempts_total{channel="web",outcome="success"} 1')
    expect(text).toContain('authtrail_login_attempts_total{channel="web",outcome="invalid_credentials"} 1')
    expect(text).toContain('authtrail_login_attempts_total{channel="web",outcome="locked"} 1')
    expect(text).toContain('authtrail_login_attempts_total{channel="mobile",outcome="rejected"} 1')
    expect(text).toContain('authtrail_accounts_locked 1')
    expect(text).toMatch(/authtrail_http_request_duration_seconds_count\{method="GET",route="\/v1\/investigation\/lockouts\/:identifier",status="200"\} 1/)
    expect(text).not.toContain('alice')
    expect(text).toContain('authtrail_relay_delivered_total 3')
    expect(text).toContain('authtrail_contributed_total 0')
    // The second wrong password triggered the lockout: the login path counts it.
    expect(text).toContain('authtrail_account_lockouts_total{channel="web"} 1')
  })
})
