import { Scalar } from '@scalar/hono-api-reference'
import { Hono } from 'hono'
import type { AppEnv } from '../../http/app-env.ts'
import { ownOrigin } from '../../http/require-role.ts'

/** Where the page loads the reference renderer from: this service, never a CDN. */
export const DOCS_SCRIPT_PATH = '/docs/api-reference.js'

export interface DocsDeps {
  /**
   * The renderer's standalone browser bundle (`@scalar/api-reference/browser/standalone.js`), read by the
   * runtime that has a file system; read once, on the first request.
   */
  loadRendererScript: () => Promise<Uint8Array>
  /** Whether a trusted proxy's X-Forwarded-Host/Proto tell the service's origin as clients see it. */
  trustProxy: boolean
}

/** An origin fit to be written into the page: scheme, host name or address, port; nothing else. */
const PLAIN_ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/

/**
 * The reference page may run the renderer from this origin and its own one inline initialisation (allowed
 * by hash, not by 'unsafe-inline'), and talk to this origin only. The renderer injects its styles at run
 * time, hence the inline styles.
 */
function docsCsp(inlineScriptHashes: string[]): string {
  return [
    "default-src 'none'",
    ["script-src 'self'", ...inlineScriptHashes.map((hash) => `'${hash}'`)].join(' '),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/** `sha256-…` of each inline script of a page, as CSP names it. */
async function inlineScriptHashes(html: string): Promise<string[]> {
  const bodies = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((match) => match[1]!)
  return Promise.all(
    bodies.map(async (body) => {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)))
      return `sha256-${btoa(String.fromCharCode(...digest))}`
    }),
  )
}

/**
 * The API reference at /docs: Scalar's page over /openapi.json, with the renderer served from this
 * service (no CDN, no web fonts, no telemetry), so that it works without internet access and under a CSP
 * that names no other origin. Mounted at /docs.
 */
export function createDocsRoutes(deps: DocsDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const render = Scalar<AppEnv>((c) => ({
    url: '/openapi.json',
    // The document's server is relative (''); the renderer's examples and snippets need this service's origin.
    ...(PLAIN_ORIGIN.test(ownOrigin(c, deps.trustProxy)) ? { servers: [{ url: ownOrigin(c, deps.trustProxy), description: 'This service' }] } : {}),
    cdn: DOCS_SCRIPT_PATH,
    pageTitle: 'authtrail API',
    withDefaultFonts: false,
    telemetry: false,
    persistAuth: false,
    showDeveloperTools: 'never',
    // The AI agent (enabled by default on localhost) fetches from the vendor's servers.
    ...({ agent: { disabled: true } } as object),
  }))
  let script: Promise<{ plain: Uint8Array; gzipped: ArrayBuffer }> | null = null
  const loadScript = () => {
    script ??= deps.loadRendererScript().then(async (plain) => {
      const stream = new Blob([plain as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'))
      return { plain, gzipped: await new Response(stream).arrayBuffer() }
    })
    script.catch(() => {
      script = null
    })
    return script
  }

  app.get('/', async (c, next) => {
    const response = (await render(c, next)) as Response
    // No icon: the browser would otherwise ask for /favicon.ico, which the service does not serve.
    const html = (await response.text()).replace('<html>', '<html lang="en">').replace('<head>', '<head>\n    <link rel="icon" href="data:,">')
    const hashes = await inlineScriptHashes(html)
    c.header('Cache-Control', 'no-cache')
    c.header('Content-Security-Policy', docsCsp(hashes))
    c.header('Referrer-Policy', 'no-referrer')
    return c.html(html)
  })
  app.get('/api-reference.js', async (c) => {
    const { plain, gzipped } = await loadScript()
    c.header('Content-Type', 'text/javascript; charset=utf-8')
    c.header('Cache-Control', 'public, max-age=3600')
    c.header('Vary', 'Accept-Encoding')
    if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      c.header('Content-Encoding', 'gzip')
      return c.body(gzipped)
    }
    return c.body(plain as Uint8Array<ArrayBuffer>)
  })
  return app
}
