import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthtrailProblem, createAuthtrail, memoryStorage, type Authtrail, type StoredSession } from '../sdk/src/index.ts'
import { readmeSnippet, SDK_ENTRY } from './support/readme-snippet.ts'
import { REPO_ROOT } from './support/spawn-service.ts'
import { useTestDatabase } from './support/database.ts'
import { serveApp } from './support/serve-app.ts'
import { useSeededTenant, useTestApp } from './support/test-app.ts'

// The SDK from Node as a React Native app uses it: real HTTP, a device id, no cookies, tokens in the
// storage the app gives it.

const db = useTestDatabase('sdk_mobile')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }, { identifier: 'auditor@acme.test', role: 'auditor' }] })
let server: Awaited<ReturnType<typeof serveApp>>
/** Every request the SDK sent, as the server received it. */
const sent: Request[] = []

beforeAll(async () => {
  server = await serveApp(t.app)
})
afterAll(() => server?.close())

function mobileApp(options: { deviceId?: string; now?: () => number; failFirstLoginAnswer?: boolean } = {}) {
  const storage = memoryStorage()
  let dropped = false
  const authtrail = createAuthtrail({
    baseUrl: server.url,
    storage,
    platform: { mobile: { deviceId: options.deviceId ?? 'ios-6F2C9A' } },
    now: options.now,
    fetch: async (request) => {
      sent.push(request.clone())
      const response = await fetch(request)
      // The answer is lost on the way back, as on a flaky mobile network: the attempt was recorded.
      if (options.failFirstLoginAnswer && !dropped && /login$/.test(request.url)) {
        dropped = true
        throw new TypeError('network connection was lost')
      }
      return response
    },
  })
  return { authtrail, storage }
}

describe('the SDK package', () => {
  it('uses no Node built-in and no cookie API (it must run in browsers and React Native)', async () => {
    const source = await readFile(new URL('../sdk/src/index.ts', import.meta.url), 'utf8')
    expect(source).not.toMatch(/from ['"]node:|require\(|document\.cookie|\bprocess\.[a-z]|\bBuffer\b/)
    expect(Object.keys(JSON.parse(await readFile(new URL('../sdk/package.json', import.meta.url), 'utf8')).dependencies)).toEqual(['openapi-fetch'])
  })
})

describe('a mobile app through the SDK (Node, no cookies)', () => {
  it('logs in bound to its device, asks who it is, refreshes, and logs out', async () => {
    const { authtrail, storage } = mobileApp()
    const alice = acme.users['alice@acme.test']!
    const session = await authtrail.logIn({ tenant: 'acme', identifier: alice.identifier, password: alice.password })
    expect(await storage.get()).toEqual(session)
    expect(await authtrail.session()).toMatchObject({ identifier: 'alice@acme.test', tenant: 'acme', role: 'user', channel: 'mobile', device_id: 'ios-6F2C9A' })
    const refreshed = await authtrail.refresh()
    expect(refreshed.refreshToken).not.toBe(session.refreshToken)
    expect(refreshed.sessionId).toBe(session.sessionId)
    await authtrail.logOut()
    expect(await storage.get()).toBeNull()
    await expect(authtrail.session()).rejects.toMatchObject({ problem: { status: 401, code: 'unauthorized' } })
    expect(sent.every((r) => r.headers.get('cookie') === null)).toBe(true)
  })

  it('refreshes before the access token expires, and once on a 401', async () => {
    let clock = Date.now()
    const { authtrail, storage } = mobileApp({ now: () => clock })
    const alice = acme.users['alice@acme.test']!
    const first = await authtrail.logIn({ tenant: 'acme', identifier: alice.identifier, password: alice.password })
    // Close to expiry by the client's clock: the next call refreshes first.
    clock += (3600 - 30) * 1000
    await authtrail.session()
    const second = (await storage.get())!
    expect(second.refreshToken).not.toBe(first.refreshToken)

    // The server refuses the access token (its session's token was replaced): the SDK refreshes once and retries.
    await storage.set({ ...second, accessToken: first.accessToken.replace(/\.[^.]+$/, '.AAAA') })
    expect((await authtrail.session()).session_id).toBe(first.sessionId)
    expect((await storage.get())!.refreshToken).not.toBe(second.refreshToken)
  })

  it('retries a login whose answer was lost with the same Idempotency-Key: one attempt recorded', async () => {
    const { authtrail } = mobileApp({ failFirstLoginAnswer: true })
    const alice = acme.users['alice@acme.test']!
    const attempts = async () => (await db.sql`SELECT count(*)::int AS n FROM auth_logs WHERE user_id = ${alice.id} AND event_type IN ('login_success', 'login_failed')`)[0]!.n as number
    const [before, sentBefore] = [await attempts(), sent.length]
    const session = await authtrail.logIn({ tenant: 'acme', identifier: alice.identifier, password: alice.password })
    const logins = sent.slice(sentBefore).filter((r) => /login$/.test(r.url))
    expect(logins).toHaveLength(2)
    expect(logins[0]!.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/)
    expect(logins[1]!.headers.get('idempotency-key')).toBe(logins[0]!.headers.get('idempotency-key'))
    expect(await attempts()).toBe(before + 1)
    expect((await authtrail.session()).session_id).toBe(session.sessionId)
  })

  it('ends the session when a stolen refresh token is used first (reuse detection), and types problems', async () => {
    const { authtrail, storage } = mobileApp()
    const alice = acme.users['alice@acme.test']!
    const session = await authtrail.logIn({ tenant: 'acme', identifier: alice.identifier, password: alice.password })
    const thief = await fetch(`${server.url}/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: session.refreshToken, device_id: 'ios-6F2C9A' }),
    })
    expect(thief.status).toBe(200)
    const error = await authtrail.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthtrailProblem)
    expect((error as AuthtrailProblem).problem).toMatchObject({ status: 401, code: 'invalid_refresh_token' })
    expect(await storage.get()).toBeNull()
    const stolen: StoredSession = { ...session, refreshToken: (await thief.json()).refresh_token }
    // The thief's rotated token died with the family.
    await storage.set(stolen)
    await expect(authtrail.refresh()).rejects.toBeInstanceOf(AuthtrailProblem)

    const wrong = await authtrail.logIn({ tenant: 'acme', identifier: alice.identifier, password: 'wrong' }).catch((e: unknown) => e)
    expect((wrong as AuthtrailProblem).problem).toMatchObject({ status: 401, code: 'invalid_credentials' })
  })

  it("queries the investigation API with an auditor's token", async () => {
    const { authtrail } = mobileApp({ deviceId: 'android-auditor' })
    const auditor = acme.users['auditor@acme.test']!
    await authtrail.logIn({ tenant: 'acme', identifier: auditor.identifier, password: auditor.password })
    const { data, error } = await authtrail.client.GET('/v1/investigation/events', { params: { query: { identifier: 'alice@acme.test', limit: 5 } } })
    expect(error).toBeUndefined()
    expect(data!.events.length).toBeGreaterThan(0)
    expect(data!.events.every((e) => e.identifier === 'alice@acme.test')).toBe(true)
  })
})

describe("the README's snippets", () => {
  it('type-check against the SDK, strict, with the DOM and no Node types (as in a web or React Native app)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authtrail-readme-types-'))
    try {
      const files = await Promise.all(
        ['web-app', 'mobile-app'].map(async (name) => {
          const file = join(dir, `${name}.ts`)
          await writeFile(file, (await readmeSnippet(name, 'https://auth.example.com')).replaceAll("'@authtrail/sdk'", JSON.stringify(SDK_ENTRY)))
          return file
        }),
      )
      const options = ['--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2023,dom,dom.iterable', '--module', 'esnext', '--moduleResolution', 'bundler', '--allowImportingTsExtensions', '--skipLibCheck']
      // Run from the temporary folder: no @types (Node's among them) is found there.
      const run = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), ...options, ...files], { cwd: dir, encoding: 'utf8', timeout: 120_000 })
      expect(`${run.stdout}${run.stderr}`).toBe('')
      expect(run.status).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 150_000)
})

describe("the README's mobile snippet (Use it from a mobile app), run as written", () => {
  it('keeps the session in the secure store, bound to its device: copied to another device, the refresh is refused and the store emptied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authtrail-readme-'))
    try {
      const snippet = (await readmeSnippet('mobile-app', server.url)).replaceAll("'@authtrail/sdk'", JSON.stringify(SDK_ENTRY))
      await writeFile(join(dir, 'mobile-app.ts'), snippet)
      const readme = (await import(/* @vite-ignore */ join(dir, 'mobile-app.ts'))) as { createMobileClient(store: unknown, deviceId: string): Authtrail }
      // The app's secure store (Keychain / Keystore through expo-secure-store); here a map with its async API.
      const kept = new Map<string, string>()
      const store = {
        getItemAsync: async (key: string) => kept.get(key) ?? null,
        setItemAsync: async (key: string, value: string) => void kept.set(key, value),
        deleteItemAsync: async (key: string) => void kept.delete(key),
      }
      const authtrail = readme.createMobileClient(store, 'ios-README-1')
      const alice = acme.users['alice@acme.test']!
      const session = await authtrail.logIn({ tenant: 'acme', identifier: alice.identifier, password: alice.password })
      expect(JSON.parse(kept.get('authtrail.session')!)).toEqual(session)
      expect(await authtrail.session()).toMatchObject({ identifier: 'alice@acme.test', channel: 'mobile', device_id: 'ios-README-1' })
      const refreshed = await authtrail.refresh()
      expect(JSON.parse(kept.get('authtrail.session')!).refreshToken).toBe(refreshed.refreshToken)
      // Bound to the device: the stored refresh token, copied to another device, is refused and ends the session.
      const elsewhere = readme.createMobileClient(store, 'android-OTHER')
      await expect(elsewhere.refresh()).rejects.toMatchObject({ problem: { status: 401, code: 'invalid_refresh_token' } })
      expect(kept.has('authtrail.session')).toBe(false)
      await expect(authtrail.session()).rejects.toMatchObject({ problem: { status: 401 } })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
