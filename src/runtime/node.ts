import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { loadEnv } from '../config/env.ts'
import { runCommand } from '../cli/run-command.ts'
import { bootServices, developmentBanner } from './boot.ts'

// Node entrypoint: validate configuration, wire, serve. Nothing else lives here.
await runCommand(async () => {
  const env = loadEnv(process.env)
  const services = await bootServices(env, (c) => getConnInfo(c).remote.address ?? null)
  const server = serve({ fetch: services.app.fetch, port: env.PORT, hostname: env.HOST }, (info) => {
    console.log(env.AUTHTRAIL_ENV === 'development' ? developmentBanner(info.port, env.HOST, services) : `authtrail listening on ${env.HOST}:${info.port}`)
  })
  const shutdown = () => {
    services.endStreams()
    server.close(() => void services.close().then(() => process.exit(0)))
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
})
