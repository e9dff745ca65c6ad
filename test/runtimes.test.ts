import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { startRsyslog, type RsyslogReceiver } from './support/rsyslog.ts'
import { expectRightAndWrongLogin } from './support/runtime-login.ts'
import { freePort, spawnService, type RunningService, type Runtime } from './support/spawn-service.ts'
import { seedTenant, TEST_JWT_SIGNING_KEY, type SeededTenant } from './support/test-app.ts'

// The real entrypoints, started by their package.json commands as child processes on Node, Bun, Deno and
// Deno without native code (no --allow-ffi: argon2id in WebAssembly, as on Deno Deploy), against one test
// database and with a real rsyslog configured as the syslog sink. Each runtime has its own tenant (one chain
// shard), so its rows and its chain head can be checked exactly. workerd has its own file (workerd.test.ts).

const RUNTIMES: Runtime[] = ['node', 'bun', 'deno', 'deno-wasm']
const IDENTIFIER = 'alice@runtime.test'
/** The argon2id implementation each runtime must choose with PASSWORD_HASHER=auto. */
const EXPECTED_HASHER: Record<Runtime, 'native' | 'wasm'> = { node: 'native', bun: 'native', deno: 'native', 'deno-wasm': 'wasm' }
/** Start-up under load (type stripping, the WebAssembly hasher's first hash) can take a minute. */
const START_TIMEOUT_MS = 120_000

interface Target {
  service: RunningService
  baseUrl: string
  seeded: SeededTenant
  events: { successId: string; failureId: string } | null
}

let db: TestDatabase
let rsyslog: RsyslogReceiver
const targets = new Map<Runtime, Target>()

const baseEnv = () => ({
  AUTHTRAIL_ENV: 'test',
  DATABASE_URL: db.url,
  DATABASE_POOL_SIZE: '2',
  JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY,
  HOST: '127.0.0.1',
  // A syslog sink makes the entrypoint resolve the host name at start-up (the RFC 5424 HOSTNAME field):
  // on Deno that needs --allow-sys=hostname, which `npm run start:deno` once lacked.
  SYSLOG_URL: rsyslog.tcpUrl,
})

beforeAll(async () => {
  ;[db, rsyslog] = await Promise.all([createTestDatabase('runtimes', { max: 3 }), startRsyslog()])
  // Boot in parallel: start-up (type stripping, migrations check, the dummy argon2id hash) dominates.
  await Promise.all(
    RUNTIMES.map(async (runtime) => {
      const seeded = await seedTenant(db.sql, { slug: `rt-${runtime}`, chainShards: 1, users: [{ identifier: IDENTIFIER }] })
      const port = await freePort()
      // The relay stays off here, so that the outbox rows are still there to be checked; one test below runs it.
      const service = spawnService(runtime, { ...baseEnv(), PORT: String(port), RELAY_ENABLED: 'false' })
      const baseUrl = `http://127.0.0.1:${port}`
      targets.set(runtime, { service, baseUrl, seeded, events: null })
      await service.waitForHealthy(baseUrl, START_TIMEOUT_MS)
    }),
  )
}, 4 * START_TIMEOUT_MS)

afterAll(async () => {
  await Promise.all([...targets.values()].map((t) => t.service.stop()))
  await Promise.allSettled([db?.drop(), rsyslog?.dispose()])
})

describe.each(RUNTIMES)('the %s entrypoint', (runtime) => {
  it(`chooses the ${EXPECTED_HASHER[runtime]} argon2id hasher and says so at start-up`, () => {
    const service = targets.get(runtime)!.service
    const line = service
      .stderr()
      .split('\n')
      .find((l) => l.includes('"msg":"password hasher"'))
    expect(line, service.stderr()).toBeDefined()
    expect(JSON.parse(line!)).toMatchObject({ level: 'info', algorithm: 'argon2id', implementation: EXPECTED_HASHER[runtime] })
  })

  it('backs a successful web login and a wrong-password mobile login with exactly the rows described', async () => {
    const target = targets.get(runtime)!
    target.events = await expectRightAndWrongLogin({ sql: db.sql, baseUrl: target.baseUrl, seeded: target.seeded, identifier: IDENTIFIER, label: runtime })
  })

  it('refuses to start in production without JWT_SIGNING_KEY, naming the variable', async () => {
    const service = spawnService(runtime, { AUTHTRAIL_ENV: 'production', DATABASE_URL: db.url, PORT: '0' })
    expect(await service.exited).toBe(78)
    expect(service.stderr()).toMatch(/JWT_SIGNING_KEY: must be set in production/)
  })

  it('refuses to start with a malformed DATABASE_URL, naming the variable', async () => {
    const service = spawnService(runtime, { AUTHTRAIL_ENV: 'test', DATABASE_URL: 'mysql://127.0.0.1/authtrail', JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY, PORT: '0' })
    expect(await service.exited).toBe(78)
    expect(service.stderr()).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/)
  })

  it('shuts down cleanly on SIGTERM', async () => {
    expect(await targets.get(runtime)!.service.stop()).toBe(0)
  })
})

describe('Deno without native code (npm run start:deno:wasm)', () => {
  it('refuses PASSWORD_HASHER=native, naming the variable', async () => {
    const service = spawnService('deno-wasm', { ...baseEnv(), PASSWORD_HASHER: 'native', PORT: '0' })
    expect(await service.exited).toBe(78)
    expect(service.stderr()).toMatch(/PASSWORD_HASHER: native argon2id cannot be loaded here \(Deno runs without --allow-ffi\)/)
  })

  it('runs the relay: every runtime’s attempts reach rsyslog as CEF, sent by this process', async () => {
    const expected = [...targets.values()].flatMap((t) => (t.events ? [t.events.successId, t.events.failureId] : []))
    expect(expected).toHaveLength(2 * RUNTIMES.length)
    const relay = spawnService('deno-wasm', { ...baseEnv(), PORT: String(await freePort()), RELAY_BACKOFF_BASE_MS: '100', RELAY_BACKOFF_MAX_MS: '1000' })
    try {
      // Nothing else relays in this file, so every line must come from this process (RFC 5424 PROCID).
      const lines = await rsyslog.waitForLines(expected.length, START_TIMEOUT_MS)
      for (const id of expected) {
        const line = lines.find((l) => l.includes(`externalId=${id}`))
        expect(line, `no CEF line for event ${id}`).toBeDefined()
        expect(line).toMatch(new RegExp(` authtrail ${relay.child.pid} login_(success|failed) - CEF:0\\|authtrail\\|authtrail\\|`))
      }
    } finally {
      expect(await relay.stop()).toBe(0)
    }
  })
})
