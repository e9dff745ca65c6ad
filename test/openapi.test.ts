import { readFile } from 'node:fs/promises'
import openapiTS, { astToString } from 'openapi-typescript'
import { describe, expect, it } from 'vitest'
import { createApp } from '../src/app.ts'
import { createTokenService } from '../src/auth/tokens.ts'
import { createSql } from '../src/db/client.ts'
import { buildOpenApiDocument, serialiseOpenApiDocument } from '../src/openapi-document.ts'

describe('OpenAPI document', () => {
  it('the committed openapi/openapi.json is what the routes generate (run `npm run openapi` after changing a route)', async () => {
    const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
    expect(committed).toBe(serialiseOpenApiDocument(await buildOpenApiDocument()))
  })

  it('the one generated copy of the client types, sdk/src/api.d.ts (used by the SDK, the console and the tests), is generated from the committed document (`npm run openapi`)', async () => {
    const document = JSON.parse(await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))
    const committed = await readFile(new URL('../sdk/src/api.d.ts', import.meta.url), 'utf8')
    const generated = astToString(await openapiTS(document))
    // The CLI adds a banner comment; the declarations must match exactly.
    expect(committed.slice(committed.indexOf('export interface paths'))).toBe(generated.slice(generated.indexOf('export interface paths')))
  })

  it('declares every route with problem+json errors', async () => {
    const doc = (await buildOpenApiDocument()) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/auth/login', '/v1/mobile/auth/login', '/v1/auth/register', '/v1/audit/verify']))
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400) expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json'])
        }
      }
    }
  })
})

describe('/docs (in-process; in chromium: test/browser/sdk.test.ts)', () => {
  const docsApp = (trustProxy: boolean) =>
    createApp({
      sql: createSql('postgres://docs@127.0.0.1:1/none', { max: 1 }),
      hasher: { hash: async () => '', verify: async () => false },
      tokens: createTokenService('x'.repeat(32), 'authtrail'),
      clock: () => new Date(0),
      dummyHash: '',
      resolveAddress: () => null,
      config: { tokenTtlSeconds: 3600, trustProxy, secureCookies: true },
      log: () => {},
      docs: { loadRendererScript: async () => new TextEncoder().encode('window.Scalar = {}') },
    })

  it("names this service's origin as the renderer's server, and never a forwarded host that is not a plain origin", async () => {
    const page = await (await docsApp(true).request('http://127.0.0.1:3000/docs', { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com' } })).text()
    expect(page).toContain('"url": "https://auth.example.com"')
    const forged = await docsApp(true).request('http://127.0.0.1:3000/docs', { headers: { 'x-forwarded-host': 'x</script><script>alert(1)</script>' } })
    expect(await forged.text()).not.toContain('alert(1)')
    // Without a trusted proxy, forwarded headers are not believed.
    expect(await (await docsApp(false).request('http://127.0.0.1:3000/docs', { headers: { 'x-forwarded-host': 'evil.example' } })).text()).toContain('"url": "http://127.0.0.1:3000"')
  })

  it('serves the renderer from this service, and allows no script but its own and the hashed initialisation', async () => {
    const res = await docsApp(false).request('/docs')
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'; /)
    expect(await res.text()).toContain('<script src="/docs/api-reference.js">')
    const script = await docsApp(false).request('/docs/api-reference.js')
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(await script.text()).toBe('window.Scalar = {}')
  })
})
