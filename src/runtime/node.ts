import { loadEnv } from '../config/env.ts'
import { runCommand } from '../cli/run-command.ts'
import { bootServices, developmentBanner } from './boot.ts'
import { survivesLostDatabaseConnections } from './database-connection-guard.ts'
import { exitOnStartUpFailure } from './start-up-failure.ts'
import { nodePeerAddress, serveNode } from './node-server.ts'

// Node entrypoint: validate configuration, wire, serve. Nothing else lives here.
await runCommand(async () => {
  process.on('unhandledRejection', survivesLostDatabaseConnections((line) => console.error(line)))
  const env = loadEnv(process.env)
  const services = await bootServices(env, nodePeerAddress).catch(exitOnStartUpFailure)
  const server = serveNode(services.app, { port: env.PORT, hostname: env.HOST }, (port) => {
    console.log(env.AUTHTRAIL_ENV === 'development' ? developmentBanner(port, env.HOST, services) : `authtrail listening on ${env.HOST}:${port}`)
  })
  const metricsServer = services.metricsApp
    ? serveNode(services.metricsApp, { port: env.METRICS_PORT!, hostname: env.METRICS_HOST ?? env.HOST }, (port) => console.log(`authtrail metrics on ${env.METRICS_HOST ?? env.HOST}:${port}`))
    : null
  const shutdown = () => {
    services.endStreams()
    metricsServer?.close()
    server.close(() => void services.close().then(() => process.exit(0)))
    server.closeIdleConnections()
    // A connection still busy after a grace period (a client holding a request open on a kept-alive
    // socket) is closed rather than waited for: a shutdown never depends on a client.
    setTimeout(() => server.closeAllConnections(), 5_000).unref()
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
})
