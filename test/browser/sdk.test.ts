import { createServer, type Server } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO } from '../../src/db/seed-demo.ts'
import { useTestDatabase } from '../support/database.ts'
import { readmeSnippet, SDK_ENTRY } from '../support/readme-snippet.ts'
import { freePort, spawnService, type RunningService } from '../support/spawn-service.ts'
import { seedTenant, TEST_JWT_SIGNING_KEY, type SeededTenant } from '../support/test-app.ts'

/**
 * The SDK in a real browser (Debian's chromium through playwright-core): the README's web-app code,
 * bundled by esbuild as an app would bundle it, runs in a page served by a second HTTP server on another
 * port (another origin) against the real service, spawned as `npm start` runs it. And the service's own
 * API reference at /docs, which must load nothing from anywhere else.
 */

const db = useTestDatabase('sdk_browser')
let acme: SeededTenant
let globex: SeededTenant
let service: RunningService
let serviceUrl: string
/** The web app's origin: listed in acme's allowed_origins only. */
let appUrl: string
/** Another origin no tenant lists. */
let strangerUrl: string
const appServers: Server[] = []
let context: BrowserContext
let profile: string

/** Serves the app's page and its bundle, as any static host would. */
async function serveApp(bundle: string): Promise<string> {
  const port = await freePort()
  const server = createServer((request, response) => {
    if (request.url === '/app.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
      return response.end(bundle)
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    response.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>An app</title><script type="module" src="/app.js"></script></head><body>app</body></html>')
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  appServers.push(server)
  return `http://127.0.0.1:${port}`
}

/** The README's "Use it from a web app" block, as written, bundled for the browser; its exports become `window.app`. */
async function bundleReadmeWebApp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'authtrail-web-app-'))
  try {
    await writeFile(join(dir, 'web-app.ts'), (await readmeSnippet('web-app', serviceUrl)).replaceAll("'@authtrail/sdk'", JSON.stringify(SDK_ENTRY)))
    await writeFile(join(dir, 'entry.ts'), "import * as app from './web-app.ts'\n;(globalThis as { app?: unknown }).app = app\n")
    const result = await build({ entryPoints: [join(dir, 'entry.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' })
    return result.outputFiles[0]!.text
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

beforeAll(async () => {
  profile = await mkdtemp(join(tmpdir(), 'authtrail-sdk-browser-'))
  const port = await freePort()
  serviceUrl = `http://127.0.0.1:${port}`
  const bundle = await bundleReadmeWebApp()
  appUrl = await serveApp(bundle)
  strangerUrl = await serveApp(bundle)
  acme = await seedTenant(db.sql, {
    slug: 'acme',
    name: 'Acme',
    allowedOrigins: [appUrl],
    users: [{ identifier: 'alice@acme.test' }, { identifier: 'auditor@acme.test', role: 'auditor' }],
  })
  globex = await seedTenant(db.sql, { slug: 'globex', name: 'Globex', users: [{ identifier: 'bob@globex.test' }] })
  // The demo tenant of `npm start`, whose credentials the reference's examples carry.
  await seedTenant(db.sql, { slug: DEMO.tenant, name: 'Demo', users: [{ identifier: DEMO.user.identifier, password: DEMO.user.password }] })
  service = spawnService('node', {
    AUTHTRAIL_ENV: 'test',
    DATABASE_URL: db.url,
    JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY,
    HOST: '127.0.0.1',
    PORT: String(port),
    SYSLOG_URL: `file://${join(profile, 'cef.log')}`,
  })
  await service.waitForHealthy(serviceUrl, 90_000)
  context = await chromium.launchPersistentContext(join(profile, 'chromium'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}, 180_000)

afterAll(async () => {
  await context?.close()
  await service?.stop()
  await Promise.all(appServers.map((server) => new Promise((resolve) => server.close(resolve))))
  if (profile) await rm(profile, { recursive: true, force: true })
})

interface OpenedPage extends Page {
  /** Script errors, CSP violations and requests to an origin other than the page's and the service's. */
  problems: string[]
  /** The requests the page sent to the service, with their headers. */
  toService: { url: string; headers: Record<string, string> }[]
}

async function openPage(url: string, allowedOrigins: string[]): Promise<OpenedPage> {
  const page = (await context.newPage()) as OpenedPage
  page.problems = []
  page.toService = []
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 4\d\d|CORS|Failed to fetch|ERR_FAILED/.test(message.text())) page.problems.push(`console: ${message.text()}`)
  })
  page.on('request', (request) => {
    const requested = request.url()
    if (requested.startsWith(serviceUrl)) page.toService.push({ url: requested, headers: request.headers() })
    if (!allowedOrigins.some((origin) => requested.startsWith(`${origin}/`)) && !/^(blob|data):/.test(requested)) page.problems.push(`request to another origin: ${requested}`)
  })
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))
  })
  await page.goto(url)
  await page.waitForFunction(() => 'app' in globalThis && !!(globalThis as { app?: unknown }).app, undefined, { timeout: 30_000 }).catch(() => undefined)
  return page
}

/** Runs one of the README snippet's exports in the page; a thrown problem comes back as `{ problem }`. */
function inPage<T>(page: Page, call: string, args: unknown[] = []): Promise<{ value?: T; problem?: { status: number; code: string }; error?: string }> {
  return page.evaluate(
    async ([name, params]) => {
      const app = (globalThis as unknown as { app: Record<string, (...a: unknown[]) => Promise<unknown>> }).app
      try {
        const [object, method] = name.includes('.') ? name.split('.') : [null, name]
        const target = object ? (app[object] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>) : app
        return { value: JSON.parse(JSON.stringify((await target[method!]!(...params)) ?? null)) }
      } catch (error) {
        const problem = (error as { problem?: { status: number; code: string } }).problem
        return problem ? { problem: { status: problem.status, code: problem.code } } : { error: `${(error as Error).name}: ${(error as Error).message}` }
      }
    },
    [call, args] as const,
  ) as Promise<{ value?: T; problem?: { status: number; code: string }; error?: string }>
}

const eventsOf = (userId: string, type: string) =>
  db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE user_id = ${userId} AND event_type = ${type}`.then(([row]) => row!.n)

describe('a web app on another origin, through the SDK, in chromium', () => {
  it('logs in, asks who it is, refreshes, and logs out, with no cookie', async () => {
    const page = await openPage(`${appUrl}/`, [appUrl, serviceUrl])
    const alice = acme.users['alice@acme.test']!
    const me = await inPage<{ identifier: string; tenant: string; role: string; channel: string }>(page, 'signIn', ['acme', alice.identifier, alice.password])
    expect(me).toEqual({ value: expect.objectContaining({ identifier: 'alice@acme.test', tenant: 'acme', role: 'user', channel: 'web', device_id: null }) })

    const before = await inPage<{ refreshToken: string; sessionId: string }>(page, 'authtrail.refresh')
    expect(before.value?.sessionId).toMatch(/^[0-9a-f-]{36}$/)
    const after = await inPage<{ refreshToken: string; sessionId: string }>(page, 'authtrail.refresh')
    expect(after.value?.refreshToken).not.toBe(before.value?.refreshToken)
    expect(after.value?.sessionId).toBe(before.value?.sessionId)
    expect(await eventsOf(alice.id, 'token_refreshed')).toBe(2)
    expect((await inPage(page, 'authtrail.session')).value).toMatchObject({ identifier: 'alice@acme.test' })

    expect(await inPage(page, 'signOut')).toEqual({ value: null })
    expect(await eventsOf(alice.id, 'logout')).toBe(1)
    const [open] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_sessions WHERE user_id = ${alice.id} AND revoked_at IS NULL`
    expect(open!.n).toBe(0)
    expect(await inPage(page, 'authtrail.session')).toEqual({ problem: { status: 401, code: 'unauthorized' } })

    // The bearer token is the credential: no cookie was kept or sent, nothing was stored in the page.
    expect(await context.cookies()).toEqual([])
    expect(page.toService.length).toBeGreaterThan(5)
    expect(page.toService.filter((r) => r.headers.cookie !== undefined)).toEqual([])
    expect(await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length])).toEqual(['', 0, 0])
    expect(page.problems).toEqual([])
    await page.close()
  }, 120_000)

  it("is refused when its origin is not one its tenant allows: by the tenant (403 origin_not_allowed), or by the browser's CORS check", async () => {
    const page = await openPage(`${appUrl}/`, [appUrl, serviceUrl])
    const bob = globex.users['bob@globex.test']!
    expect(await inPage(page, 'signIn', ['globex', bob.identifier, bob.password])).toEqual({ problem: { status: 403, code: 'origin_not_allowed' } })
    const refused = await db.sql`SELECT event_type, reason, metadata FROM auth_logs WHERE tenant_id = ${globex.tenant.id}`
    expect(refused).toEqual([expect.objectContaining({ event_type: 'login_failed', reason: 'invalid_request', metadata: expect.objectContaining({ problem_code: 'origin_not_allowed' }) })])
    expect(page.problems).toEqual([])
    await page.close()

    // An origin no tenant lists gets no CORS answer: the browser withholds the response from the script.
    const stranger = await openPage(`${strangerUrl}/`, [strangerUrl, serviceUrl])
    const alice = acme.users['alice@acme.test']!
    const outcome = await inPage(stranger, 'signIn', ['acme', alice.identifier, alice.password])
    expect(outcome.error).toMatch(/TypeError: Failed to fetch/)
    await stranger.close()
  }, 120_000)

  it("queries the investigation API with an auditor's token", async () => {
    const page = await openPage(`${appUrl}/`, [appUrl, serviceUrl])
    const alice = acme.users['alice@acme.test']!
    expect(await inPage(page, 'signIn', ['acme', alice.identifier, 'not her password'])).toEqual({ problem: { status: 401, code: 'invalid_credentials' } })
    const auditor = acme.users['auditor@acme.test']!
    expect((await inPage(page, 'signIn', ['acme', auditor.identifier, auditor.password])).value).toMatchObject({ role: 'auditor' })
    const failures = await inPage<{ identifier: string; event_type: string; outcome: string }[]>(page, 'latestFailures')
    expect(failures.value).toEqual(expect.arrayContaining([expect.objectContaining({ identifier: 'alice@acme.test', event_type: 'login_failed', outcome: 'failure' })]))
    expect(failures.value!.every((event) => event.outcome === 'failure')).toBe(true)
    // A user's token may not read the trail: the problem arrives typed.
    await inPage(page, 'signOut')
    await inPage(page, 'signIn', ['acme', alice.identifier, alice.password])
    expect(await inPage(page, 'latestFailures')).toEqual({ problem: { status: 403, code: 'forbidden' } })
    expect(page.problems).toEqual([])
    await page.close()
  }, 120_000)
})

describe('the API reference at /docs, in chromium', () => {
  it('loads from this origin only, under a CSP naming no other origin, and renders the introduction, the tags and the operations', async () => {
    const page = (await context.newPage()) as OpenedPage
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      // The renderer's zod probes for JIT with `new Function('')` in a try and falls back when the CSP refuses it.
      if (message.type() === 'error' && message.text() !== 'CSP violation: script-src eval') problems.push(`console: ${message.text()}`)
    })
    page.on('request', (request) => {
      if (!request.url().startsWith(`${serviceUrl}/`) && !/^(blob|data):/.test(request.url())) problems.push(`request to another origin: ${request.url()}`)
    })
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))
    })
    const response = await page.goto(`${serviceUrl}/docs`)
    const csp = response!.headers()['content-security-policy'] ?? ''
    expect(csp).toContain("default-src 'none'")
    expect(csp).not.toMatch(/https?:|\*/)
    expect(csp).not.toContain("'unsafe-eval'")
    await page.getByText('Try it against the demo tenant').first().waitFor({ timeout: 60_000 })
    await page.getByText('Log in from a mobile app').first().waitFor({ timeout: 60_000 })
    await page.getByText('The public keys that verify access tokens (JWKS)').first().waitFor({ timeout: 60_000 })
    const text = (await page.locator('body').textContent()) ?? ''
    for (const shown of ['Rotate the refresh token', 'Who am I', "Read the caller's tenant trail", 'Every error is application/problem+json']) expect(text).toContain(shown)
    // The example request goes to this service (the document's server is relative; the page names this origin).
    expect(text).toContain(`Send post request to ${serviceUrl}/v1/auth/login`)
    expect(problems).toEqual([])
    await page.close()
  }, 120_000)

  it("sends logIn's example as it is against the demo tenant: 200, a session", async () => {
    const document = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
    const schema = document.components.schemas.WebLoginRequest as { properties: Record<string, { example?: unknown }> }
    const example = Object.fromEntries(Object.entries(schema.properties).map(([name, property]) => [name, property.example]))
    expect(example).toEqual({ tenant: DEMO.tenant, identifier: DEMO.user.identifier, password: DEMO.user.password })
    const answer = await fetch(`${serviceUrl}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(example) })
    expect(answer.status).toBe(200)
    expect(await answer.json()).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) })
  })
})
