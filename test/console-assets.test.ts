import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { buildConsoleModule } from '../src/console/build-console.ts'
import { CONSOLE_ASSETS, CONSOLE_PAGE } from '../src/console/console-assets.ts'
import { useTestDatabase } from './support/database.ts'
import { useTestApp } from './support/test-app.ts'

const db = useTestDatabase('console_assets')
const t = useTestApp(db)

describe('console assets', () => {
  it('the committed src/console/console-assets.ts is what the sources build to (run `npm run build:console` after changing src/console/web)', async () => {
    const committed = await readFile(new URL('../src/console/console-assets.ts', import.meta.url), 'utf8')
    expect(committed).toBe(await buildConsoleModule())
  }, 60_000)

  it('serves the page for every console path under a strict Content-Security-Policy, naming only its own assets', async () => {
    for (const path of ['/console', '/console/', '/console/attack?from=x', '/console/lockouts/alice%40acme.test']) {
      const res = await t.app.request(path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-security-policy')).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      )
      expect(await res.text()).toBe(CONSOLE_PAGE)
    }
    const referenced = [...CONSOLE_PAGE.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
    expect(referenced.sort()).toEqual(Object.keys(CONSOLE_ASSETS).map((name) => `/console/assets/${name}`).sort())
    // No inline script or style (what the page requests at run time is checked in the browser test).
    expect(CONSOLE_PAGE).not.toMatch(/<script>|<style|style="/)
  })

  it('serves each asset gzip-compressed when asked, cached for good under its content-hashed name', async () => {
    for (const [name, asset] of Object.entries(CONSOLE_ASSETS)) {
      const res = await t.app.request(`/console/assets/${name}`, { headers: { 'accept-encoding': 'gzip, br' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-encoding')).toBe('gzip')
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      expect(res.headers.get('content-type')).toBe(asset.type)
      const body = await new Response(res.body!.pipeThrough(new DecompressionStream('gzip'))).text()
      expect(body).toBe(asset.body)
      const plain = await t.app.request(`/console/assets/${name}`)
      expect(plain.headers.get('content-encoding')).toBeNull()
      expect(await plain.text()).toBe(asset.body)
    }
    expect((await t.app.request('/console/assets/missing.js')).status).toBe(404)
    expect((await t.app.request('/console/assets/__proto__')).status).toBe(404)
  })
})
