import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metricsExposure } from '../src/runtime/boot.ts'
import { createServiceMetrics } from '../src/metrics/service-metrics.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { freePort, spawnService, type RunningService } from './support/spawn-service.ts'
import { createTestApp, TEST_JWT_SIGNING_KEY } from './support/test-app.ts'

// GET /metrics describes the whole service (locked accounts and throttled networks across tenants): outside
// development it is served behind METRICS_TOKEN or on a listener of its own (METRICS_PORT), never openly.

const TOKEN = 'metrics-token-metrics-token-metrics-token'
let db: TestDatabase
const services: RunningService[] = []

beforeAll(async () => {
  db = await createTestDatabase('startup_metrics', { max: 2 })
})
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()))
  await db?.drop()
})

async function start(env: Record<string, string>): Promise<{ base: string; service: RunningService }> {
  const port = await freePort()
  const service = spawnService('node', { AUTHTRAIL_ENV: 'test', DATABASE_URL: db.url, JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY, RELAY_ENABLED: 'false', HOST: '127.0.0.1', PORT: String(port), ...env })
  services.push(service)
  const base = `http://127.0.0.1:${port}`
  await service.waitForHealthy(base, 120_000)
  return { base, service }
}

describe('where GET /metrics is served', () => {
  it('is decided by METRICS_PORT, METRICS_TOKEN and the environment', () => {
    expect(metricsExposure({ AUTHTRAIL_ENV: 'development', METRICS_TOKEN: undefined, METRICS_PORT: undefined })).toEqual({ onMain: { kind: 'public' }, ownListener: false })
    for (const env of ['test', 'production'] as const) {
      expect(metricsExposure({ AUTHTRAIL_ENV: env, METRICS_TOKEN: undefined, METRICS_PORT: undefined })).toEqual({ onMain: { kind: 'none' }, ownListener: false })
    }
    expect(metricsExposure({ AUTHTRAIL_ENV: 'production', METRICS_TOKEN: TOKEN, METRICS_PORT: undefined })).toEqual({ onMain: { kind: 'token', token: TOKEN }, ownListener: false })
    expect(metricsExposure({ AUTHTRAIL_ENV: 'development', METRICS_TOKEN: TOKEN, METRICS_PORT: 9464 })).toEqual({ onMain: { kind: 'none' }, ownListener: true })
  })

  it('behind the token: refused without it or with another, problem+json; served with it', async () => {
    const t = await createTestApp(db.sql, { metrics: createServiceMetrics({ sql: db.sql }), config: { tokenTtlSeconds: 3600, trustProxy: false, secureCookies: true, metricsAccess: { kind: 'token', token: TOKEN } } })
    for (const authorization of [undefined, `Bearer ${TOKEN.slice(1)}`, `Bearer ${TOKEN}x`, TOKEN, `Basic ${TOKEN}`]) {
      const res = await t.app.request('/metrics', { headers: authorization ? { authorization } : {} })
      expect(res.status, authorization).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(await res.text()).not.toContain('authtrail_')
    }
    const res = await t.app.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('authtrail_')
  })

  it('the service outside development: not at all without either variable; on its own port only with METRICS_PORT, behind the token too', async () => {
    const bare = await start({})
    expect((await fetch(`${bare.base}/metrics`)).status).toBe(404)
    expect(bare.service.stderr()).toContain('GET /metrics is not served')

    const metricsPort = await freePort()
    const own = await start({ METRICS_PORT: String(metricsPort), METRICS_TOKEN: TOKEN })
    expect((await fetch(`${own.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(401)
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('authtrail_')
    // Nothing else is served there.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(404)
    expect(await own.service.stop()).toBe(0)
  }, 300_000)
})
