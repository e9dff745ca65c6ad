import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { expectRightAndWrongLogin } from './support/runtime-login.ts'
import { seedTenant, TEST_JWT_SIGNING_KEY, type SeededTenant } from './support/test-app.ts'
import { startWorker, type RunningWorker } from './support/workerd.ts'

// The login API on Cloudflare's workerd: the worker bundle that `npm run build:worker` builds, run by
// workerd (from npm, through miniflare) with wrangler.json's compatibility settings, talking to the real
// PostgreSQL over workerd's TCP sockets, with argon2id in WebAssembly. The same checks as the other runtimes.

const IDENTIFIER = 'alice@runtime.test'
const WORKER_APP = 'authtrail-workerd-test'
/** Bundling, workerd's start and the first request (compiling WebAssembly, the dummy hash) under load. */
const START_TIMEOUT_MS = 120_000

let db: TestDatabase
let seeded: SeededTenant
let worker: RunningWorker

beforeAll(async () => {
  db = await createTestDatabase('workerd', { max: 3 })
  seeded = await seedTenant(db.sql, { slug: 'rt-workerd', chainShards: 1, users: [{ identifier: IDENTIFIER }] })
  // The application name tells the worker's connections apart from this file's own pool.
  worker = await startWorker({ AUTHTRAIL_ENV: 'test', DATABASE_URL: `${db.url}?application_name=${WORKER_APP}`, JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY })
}, START_TIMEOUT_MS)

afterAll(async () => {
  await worker?.dispose()
  await db?.drop()
})

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = START_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => null)
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n--- worker output\n${worker.output()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe('the workerd entrypoint', () => {
  it('answers /healthz from the database', async () => {
    const health = await waitFor('GET /healthz', async () => {
      const res = await fetch(`${worker.baseUrl}/healthz`)
      return res.ok ? res.json() : null
    })
    expect(health).toEqual({ status: 'ok' })
  }, START_TIMEOUT_MS)

  it('hashes with argon2id in WebAssembly and says so in its log', async () => {
    const line = await waitFor('the password hasher log line', async () => worker.output().split('\n').find((l) => l.includes('"msg":"password hasher"')) ?? null)
    expect(JSON.parse(line.slice(line.indexOf('{')))).toMatchObject({ level: 'info', algorithm: 'argon2id', implementation: 'wasm' })
  })

  it('backs a successful web login and a wrong-password mobile login with exactly the rows described', async () => {
    await expectRightAndWrongLogin({ sql: db.sql, baseUrl: worker.baseUrl, seeded, identifier: IDENTIFIER, label: 'workerd' })
  }, START_TIMEOUT_MS)

  it('serves concurrent logins in one isolate, each on its own connection, none outliving its request', async () => {
    const users = Array.from({ length: 6 }, (_, i) => ({ identifier: `user${i}@concurrent.test` }))
    const tenant = await seedTenant(db.sql, { slug: 'rt-workerd-concurrent', chainShards: 1, users })
    const answers = await Promise.all(
      users.map(async ({ identifier }, i) => {
        const password = i % 2 === 0 ? tenant.users[identifier]!.password : 'a wrong password'
        const res = await fetch(`${worker.baseUrl}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ tenant: tenant.tenant.slug, identifier, password }),
        })
        return { identifier, right: i % 2 === 0, status: res.status, eventId: ((await res.json()) as { event_id: string }).event_id }
      }),
    )
    for (const a of answers) expect(a.status).toBe(a.right ? 200 : 401)
    const rows = await db.sql<{ id: string; identifier: string; event_type: string; seq: number }[]>`
      SELECT id, identifier, event_type, seq FROM auth_logs WHERE tenant_id = ${tenant.tenant.id} ORDER BY seq`
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(answers.map((a) => a.eventId)))
    for (const a of answers) expect(rows.find((r) => r.id === a.eventId)).toMatchObject({ identifier: a.identifier, event_type: a.right ? 'login_success' : 'login_failed' })
    const [outbox] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE tenant_id = ${tenant.tenant.id}`
    expect(outbox!.n).toBe(6)
    // Each request opens its own connection and ends it after the response (workerd would also close it
    // with the request): the worker holds no connection between requests.
    await waitFor('the worker to close its connections', async () => {
      const [open] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = ${WORKER_APP}`
      return open!.n === 0 ? true : null
    })
  }, START_TIMEOUT_MS)

  it('serves no /metrics: prom-client is left out of the edge bundle, not faked', async () => {
    const res = await fetch(`${worker.baseUrl}/metrics`)
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  })
})

describe('a worker with invalid bindings', () => {
  it('answers 503 problem+json and logs the variable, never the cause to the client', async () => {
    // Valid for a server, not for a worker: workerd loads no native module.
    const broken = await startWorker({ AUTHTRAIL_ENV: 'test', DATABASE_URL: db.url, JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY, PASSWORD_HASHER: 'native' })
    const written = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs`)[0]!.n
    const before = await written()
    try {
      const res = await fetch(`${broken.baseUrl}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: 'rt-workerd', identifier: IDENTIFIER, password: 'whatever-it-is' }),
      })
      expect(res.status).toBe(503)
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      const body = await res.text()
      expect(JSON.parse(body)).toMatchObject({ status: 503, code: 'service_unavailable' })
      expect(body).not.toMatch(/PASSWORD_HASHER|native/)
      await waitFor('the configuration error in the log', async () => (/PASSWORD_HASHER: native argon2id cannot be loaded on Workers/.test(broken.output()) ? true : null))
      // Nothing was written: the attempt never reached the application.
      expect(await written()).toBe(before)
    } finally {
      await broken.dispose()
    }
  }, START_TIMEOUT_MS)
})

describe('a worker whose database is a Hyperdrive binding', () => {
  it('validates the connection string as DATABASE_URL and logs in through it', async () => {
    const tenant = await seedTenant(db.sql, { slug: 'rt-workerd-hyperdrive', chainShards: 1, users: [{ identifier: IDENTIFIER }] })
    // Hyperdrive's configuration needs a password; the test cluster trusts loopback and ignores it.
    const origin = new URL(db.url)
    origin.password = 'unused-by-trust-auth'
    const hyperdrive = await startWorker({ AUTHTRAIL_ENV: 'test', JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY }, { hyperdrives: { HYPERDRIVE: origin.href } })
    try {
      const res = await fetch(`${hyperdrive.baseUrl}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: tenant.tenant.slug, identifier: IDENTIFIER, password: tenant.users[IDENTIFIER]!.password }),
      })
      expect(res.status).toBe(200)
      const { event_id } = (await res.json()) as { event_id: string }
      const [row] = await db.sql`SELECT event_type FROM auth_logs WHERE id = ${event_id}`
      expect(row).toMatchObject({ event_type: 'login_success' })
      expect(hyperdrive.output()).toMatch(/"msg":"authtrail worker ready".*"database":"HYPERDRIVE"/)
    } finally {
      await hyperdrive.dispose()
    }
  }, START_TIMEOUT_MS)
})
