import { serve } from '@hono/node-server'
import type { TestApp } from './test-app.ts'
import { freePort } from './spawn-service.ts'

/** The test app served over real HTTP on loopback, for clients that must go through sockets (SDKs, browsers). */
export async function serveApp(app: TestApp['app']): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort()
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' })
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())))
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
