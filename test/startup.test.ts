import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { START_UP_FAILURES } from '../src/runtime/start-up-failure.ts'
import { ADMIN_URL } from './support/database.ts'
import { freePort, spawnService, type RunningService } from './support/spawn-service.ts'
import { TEST_JWT_SIGNING_KEY } from './support/test-app.ts'

// The service started as `npm start` does, against databases it cannot use: each failure ends in one JSON
// line on stderr and an exit code of its own, never a stack trace. And the embedded database's data
// directory is held by one process at a time.

const services: RunningService[] = []
const dirs: string[] = []

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()))
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

function start(env: Record<string, string>): RunningService {
  const service = spawnService('node', { HOST: '127.0.0.1', PORT: '0', ...env })
  services.push(service)
  return service
}

/** The process ended with `code`, writing exactly one line to stderr (the failure) besides the hasher's. */
async function expectOneLineFailure(service: RunningService, reason: keyof typeof START_UP_FAILURES): Promise<Record<string, unknown>> {
  const code = await service.exited
  const lines = service
    .stderr()
    .split('\n')
    .filter((l) => l !== '' && !l.includes('"msg":"password hasher"'))
  expect(lines, service.stderr()).toHaveLength(1)
  expect(service.stderr()).not.toMatch(/^\s+at /m)
  const line = JSON.parse(lines[0]!) as Record<string, unknown>
  expect(line).toMatchObject({ level: 'fatal', msg: 'start-up failed', reason, exit_code: START_UP_FAILURES[reason] })
  expect(code).toBe(START_UP_FAILURES[reason])
  return line
}

const serverEnv = (url: string) => ({ AUTHTRAIL_ENV: 'test', DATABASE_URL: url, JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY, DATABASE_CONNECT_TIMEOUT_MS: '3000' })

describe('start-up failures', () => {
  it('each is one structured line and an exit code of its own', () => {
    expect(new Set(Object.values(START_UP_FAILURES)).size).toBe(Object.keys(START_UP_FAILURES).length)
    expect(Object.values(START_UP_FAILURES)).not.toContain(78)
    expect(Object.values(START_UP_FAILURES)).not.toContain(0)
    expect(Object.values(START_UP_FAILURES)).not.toContain(1)
  })

  it('an unreachable database', async () => {
    const closed = await freePort()
    const line = await expectOneLineFailure(start(serverEnv(`postgres://postgres@127.0.0.1:${closed}/authtrail`)), 'database_unreachable')
    expect(line.error).toContain('ECONNREFUSED')
  }, 60_000)

  it('a database that does not exist', async () => {
    const missing = `authtrail_missing_${process.pid}`
    const line = await expectOneLineFailure(start(serverEnv(ADMIN_URL.replace(/\/[^/]*$/, `/${missing}`))), 'database_missing')
    expect(line).toMatchObject({ code: '3D000' })
    expect(line.error).toContain(missing)
  }, 60_000)

  it('a role the server refuses', async () => {
    const url = new URL(ADMIN_URL)
    url.username = `authtrail_no_such_role_${process.pid}`
    const line = await expectOneLineFailure(start(serverEnv(url.toString())), 'database_login_refused')
    expect(['28000', '28P01']).toContain(line.code)
  }, 60_000)
})

describe('the embedded data directory', () => {
  it('is held by one process: a second start on it exits with its own code and names the first; a lock left by a dead process is taken over', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'authtrail-lock-'))
    dirs.push(dataDir)
    const env = { AUTHTRAIL_ENV: 'development', DATA_DIR: dataDir }
    const firstPort = await freePort()
    const first = start({ ...env, PORT: String(firstPort) })
    await first.waitForHealthy(`http://127.0.0.1:${firstPort}`, 120_000)

    const second = start({ ...env, PORT: String(await freePort()) })
    const line = await expectOneLineFailure(second, 'data_directory_locked')
    expect(line.error).toContain(`process ${first.child.pid}`)
    expect(line.error).toContain(join(dataDir, 'pglite'))
    // The first is unharmed.
    expect((await fetch(`http://127.0.0.1:${firstPort}/healthz`)).status).toBe(200)
    expect(await first.stop()).toBe(0)

    // A lock file naming a process that no longer exists (killed with -9, say) does not hold the directory.
    const dead = start({ AUTHTRAIL_ENV: 'test', DATABASE_URL: 'postgres://invalid', PORT: '0' })
    await dead.exited
    await writeFile(join(dataDir, 'pglite.lock'), String(dead.child.pid))
    const thirdPort = await freePort()
    const third = start({ ...env, PORT: String(thirdPort) })
    await third.waitForHealthy(`http://127.0.0.1:${thirdPort}`, 120_000)
    expect(await readFile(join(dataDir, 'pglite.lock'), 'utf8')).toBe(String(third.child.pid))
    expect(await third.stop()).toBe(0)
  }, 300_000)
})
