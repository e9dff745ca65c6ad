/// <reference types="bun-types" />
import type { Server } from 'bun'
import type { Context } from 'hono'
import { loadEnv } from '../config/env.ts'
import { runCommand } from '../cli/run-command.ts'
import { bootServices, developmentBanner } from './boot.ts'
import { exitOnStartUpFailure } from './start-up-failure.ts'

// Bun entrypoint: validate configuration, wire, serve. Nothing else lives here.

/**
 * The peer address as Bun's server sees it. `app.fetch(request, server)` makes the server the context's
 * env; read directly rather than through `hono/bun`, which hono deprecates for removal in v5.
 */
function bunPeerAddress(c: Context): string | null {
  const server = c.env as Server<unknown> | undefined
  return server?.requestIP(c.req.raw)?.address ?? null
}

await runCommand(async () => {
  const env = loadEnv(process.env)
  const services = await bootServices(env, bunPeerAddress).catch(exitOnStartUpFailure)
  const server = Bun.serve({ fetch: (request, srv) => services.app.fetch(request, srv), port: env.PORT, hostname: env.HOST })
  const port = server.port ?? env.PORT
  console.log(env.AUTHTRAIL_ENV === 'development' ? developmentBanner(port, env.HOST, services) : `authtrail listening on ${env.HOST}:${port} (bun)`)
  const metricsApp = services.metricsApp
  const metricsServer = metricsApp ? Bun.serve({ fetch: (request) => metricsApp.fetch(request), port: env.METRICS_PORT, hostname: env.METRICS_HOST ?? env.HOST }) : null
  const shutdown = () => {
    services.endStreams()
    void metricsServer?.stop()
    void server.stop().then(() => services.close()).then(() => process.exit(0))
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
})
