import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTokenService } from '../src/auth/tokens.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { freePort, spawnService, type RunningService, type Runtime } from './support/spawn-service.ts'
import { seedTenant, TEST_JWT_SECRET, type SeededTenant } from './support/test-app.ts'

// The real entrypoints, started as child processes on Node, Bun and Deno against one test database. Each
// runtime has its own tenant (one chain shard), so its rows and its chain head can be checked exactly.

const RUNTIMES: Runtime[] = ['node', 'bun', 'deno']
const IDENTIFIER = 'alice@runtime.test'

interface Target {
  service: RunningService
  baseUrl: string
  seeded: SeededTenant
}

let db: TestDatabase
const targets = new Map<Runtime, Target>()

beforeAll(async () => {
  db = await createTestDatabase('runtimes', { max: 3 })
  // Boot in parallel: start-up (type stripping, migrations check, the dummy argon2id hash) dominates.
  await Promise.all(
    RUNTIMES.map(async (runtime) => {
      const seeded = await seedTenant(db.sql, { slug: `rt-${runtime}`, chainShards: 1, users: [{ identifier: IDENTIFIER }] })
      const port = await freePort()
      const service = spawnService(runtime, {
        AUTHTRAIL_ENV: 'test',
        DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: '2',
        JWT_SECRET: TEST_JWT_SECRET,
        HOST: '127.0.0.1',
        PORT: String(port),
      })
      const baseUrl = `http://127.0.0.1:${port}`
      targets.set(runtime, { service, baseUrl, seeded })
      await service.waitForHealthy(baseUrl)
    }),
  )
})

afterAll(async () => {
  await Promise.all([...targets.values()].map((t) => t.service.stop()))
  await db?.drop()
})

function post(target: Target, path: string, body: Record<string, unknown>, runtime: Runtime): Promise<Response> {
  return fetch(`${target.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': `authtrail-runtime-test/${runtime}` },
    body: JSON.stringify(body),
  })
}

interface LogRow {
  id: string
  seq: number
  event_type: string
  channel: string
  outcome: string
  user_id: string | null
  identifier: string
  ip: string
  user_agent: string
  device_id: string | null
  token_jti: string | null
  prev_hash: Uint8Array
  chain_hash: Uint8Array
}

/** Everything the tenant's login attempts wrote, in chain order. */
async function tenantState(tenantId: string) {
  const logs = await db.sql<LogRow[]>`
    SELECT id, seq, event_type, channel, outcome, user_id, identifier, ip, user_agent, device_id, token_jti, prev_hash, chain_hash
    FROM auth_logs WHERE tenant_id = ${tenantId} ORDER BY seq`
  const outbox = await db.sql<{ event_id: string; seq: number }[]>`SELECT event_id, seq FROM outbox WHERE tenant_id = ${tenantId} ORDER BY seq`
  const [lockout] = await db.sql<{ failed_login_attempts: number; last_failed_at: Date | null; account_locked_until: Date | null }[]>`
    SELECT failed_login_attempts, last_failed_at, account_locked_until FROM account_lockouts WHERE tenant_id = ${tenantId}`
  const [head] = await db.sql<{ seq: number; head_hash: Uint8Array }[]>`SELECT seq, head_hash FROM chain_heads WHERE tenant_id = ${tenantId}`
  return { logs, outbox, lockout, head: head! }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

describe.each(RUNTIMES)('the %s entrypoint', (runtime) => {
  it('backs a successful web login and a wrong-password mobile login with exactly the rows described', async () => {
    const target = targets.get(runtime)!
    const { tenant } = target.seeded
    const user = target.seeded.users[IDENTIFIER]!

    const ok = await post(target, '/v1/auth/login', { tenant: tenant.slug, identifier: IDENTIFIER, password: user.password }, runtime)
    expect(ok.status).toBe(200)
    const success = (await ok.json()) as { access_token: string; event_id: string }
    expect(ok.headers.get('set-cookie')).toMatch(/^authtrail_session=.+HttpOnly/)
    const claims = await createTokenService(TEST_JWT_SECRET, 'authtrail').verify(success.access_token)
    expect(claims).toMatchObject({ sub: user.id, tid: tenant.id })

    let state = await tenantState(tenant.id)
    expect(state.logs).toHaveLength(1)
    expect(state.logs[0]).toMatchObject({
      id: success.event_id,
      seq: 1,
      event_type: 'login_success',
      channel: 'web',
      outcome: 'success',
      user_id: user.id,
      identifier: IDENTIFIER,
      // The peer address comes from the runtime's own connection info (no proxy is trusted).
      ip: '127.0.0.1',
      user_agent: `authtrail-runtime-test/${runtime}`,
      token_jti: claims.jti,
    })
    expect(state.outbox).toEqual([{ event_id: success.event_id, seq: 1 }])
    expect(state.lockout).toMatchObject({ failed_login_attempts: 0, account_locked_until: null })
    expect(state.head.seq).toBe(1)
    expect(hex(state.head.head_hash)).toBe(hex(state.logs[0]!.chain_hash))

    const bad = await post(target, '/v1/mobile/auth/login', { tenant: tenant.slug, identifier: IDENTIFIER, password: 'not-the-password', device_id: `device-${runtime}` }, runtime)
    expect(bad.status).toBe(401)
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    const failure = (await bad.json()) as { code: string; event_id: string }
    expect(failure.code).toBe('invalid_credentials')

    state = await tenantState(tenant.id)
    expect(state.logs).toHaveLength(2)
    expect(state.logs[1]).toMatchObject({
      id: failure.event_id,
      seq: 2,
      event_type: 'login_failed',
      channel: 'mobile',
      outcome: 'failure',
      user_id: user.id,
      ip: '127.0.0.1',
      device_id: `device-${runtime}`,
      token_jti: null,
    })
    expect(state.outbox).toEqual([
      { event_id: success.event_id, seq: 1 },
      { event_id: failure.event_id, seq: 2 },
    ])
    expect(state.lockout!.failed_login_attempts).toBe(1)
    expect(state.lockout!.last_failed_at).toBeInstanceOf(Date)
    expect(state.lockout!.account_locked_until).toBeNull()
    expect(state.head.seq).toBe(2)
    expect(hex(state.logs[1]!.prev_hash)).toBe(hex(state.logs[0]!.chain_hash))
    expect(hex(state.head.head_hash)).toBe(hex(state.logs[1]!.chain_hash))
  })

  it('refuses to start in production without JWT_SECRET, naming the variable', async () => {
    const service = spawnService(runtime, { AUTHTRAIL_ENV: 'production', DATABASE_URL: db.url, PORT: '0' })
    expect(await service.exited).toBe(78)
    expect(service.stderr()).toMatch(/JWT_SECRET: must be set outside development/)
  })

  it('refuses to start with a malformed DATABASE_URL, naming the variable', async () => {
    const service = spawnService(runtime, { AUTHTRAIL_ENV: 'test', DATABASE_URL: 'mysql://127.0.0.1/authtrail', JWT_SECRET: TEST_JWT_SECRET, PORT: '0' })
    expect(await service.exited).toBe(78)
    expect(service.stderr()).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/)
  })

  it('shuts down cleanly on SIGTERM', async () => {
    expect(await targets.get(runtime)!.service.stop()).toBe(0)
  })
})
