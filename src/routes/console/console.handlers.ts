import { Hono } from 'hono'
import { CONSOLE_ASSETS, CONSOLE_PAGE } from '../../console/console-assets.ts'
import type { AppEnv } from '../../http/app-env.ts'

/**
 * The console's pages may run only the console's own script and style, talk only to this origin, and be
 * framed by nobody: no inline script or style, nothing from another host.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

type Asset = (typeof CONSOLE_ASSETS)[keyof typeof CONSOLE_ASSETS]

/** Compresses once per asset, on first request, with the runtime's own CompressionStream (Node, Bun, Deno, workerd). */
const gzipped = new Map<string, Promise<ArrayBuffer>>()
function gzip(name: string, asset: Asset): Promise<ArrayBuffer> {
  let compressed = gzipped.get(name)
  if (!compressed) {
    const stream = new Blob([asset.body]).stream().pipeThrough(new CompressionStream('gzip'))
    compressed = new Response(stream).arrayBuffer()
    gzipped.set(name, compressed)
  }
  return compressed
}

/**
 * The security console: one HTML page for every path under /console (the page routes itself) and its
 * bundled script and style, built from src/console/web by `npm run build:console`. The page reads only the
 * public API, with the token its sign-in obtained. Mounted at /console.
 */
export function createConsoleRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.get('/assets/:name', async (c) => {
    const name = c.req.param('name')
    const asset = Object.hasOwn(CONSOLE_ASSETS, name) ? CONSOLE_ASSETS[name as keyof typeof CONSOLE_ASSETS] : undefined
    if (!asset) return c.notFound()
    // Names carry a content hash: a new build is a new name.
    c.header('Cache-Control', 'public, max-age=31536000, immutable')
    c.header('Content-Type', asset.type)
    c.header('Content-Security-Policy', CONSOLE_CSP)
    c.header('Vary', 'Accept-Encoding')
    if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      c.header('Content-Encoding', 'gzip')
      return c.body(await gzip(name, asset))
    }
    return c.body(asset.body)
  })
  app.get('*', (c) => {
    c.header('Cache-Control', 'no-cache')
    c.header('Content-Security-Policy', CONSOLE_CSP)
    c.header('Referrer-Policy', 'no-referrer')
    return c.html(CONSOLE_PAGE)
  })
  return app
}
