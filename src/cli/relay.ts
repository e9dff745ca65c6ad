// The outbox relay as its own process (`npm run relay`): replicates the outbox to the sinks named by
// SYSLOG_URL and MONGO_URL. Any number may run against one database; they share the work.
import { ConfigError } from '../config/env.ts'
import { prepareDatabase } from '../db/prepare-database.ts'
import { connectDatabase } from '../db/tls-options.ts'
import { createLogger } from '../http/logger.ts'
import { createConfiguredSinks } from '../outbox/create-configured-sinks.ts'
import { createOutboxRelay } from '../outbox/create-outbox-relay.ts'
import { getRelayStatus } from '../outbox/relay-status.ts'
import { SERVICE_VERSION } from '../version.ts'
import { loadCommandEnv, runCommand } from './run-command.ts'

const STATUS_LOG_INTERVAL_MS = 60_000

await runCommand(async () => {
  const env = loadCommandEnv('by the relay process (the embedded database runs only inside the service)')
  const sinks = createConfiguredSinks(env, { deviceVersion: SERVICE_VERSION })
  if (sinks.length === 0) throw new ConfigError('invalid configuration:\n  SYSLOG_URL, MONGO_URL: set at least one sink for the relay')

  const log = createLogger('authtrail-relay')
  const sql = connectDatabase('DATABASE_URL', env.DATABASE_URL, { max: sinks.length + 2 })
  await prepareDatabase(sql, env)
  const relay = createOutboxRelay({
    sql,
    sinks,
    batchSize: env.RELAY_BATCH_SIZE,
    maxAttempts: env.RELAY_MAX_ATTEMPTS,
    backoff: { baseMs: env.RELAY_BACKOFF_BASE_MS, maxMs: env.RELAY_BACKOFF_MAX_MS },
    listen: true,
    log,
  })
  await relay.start()
  log({ level: 'info', msg: 'outbox relay started', sinks: sinks.map((s) => s.name) })

  const statusTimer = setInterval(() => {
    getRelayStatus(sql, { sinks: sinks.map((s) => s.name) })
      .then((status) => log({ level: 'info', msg: 'outbox relay status', status, stats: relay.stats().sinks }))
      .catch((error: unknown) => log({ level: 'error', msg: 'outbox status query failed', error: String(error) }))
  }, STATUS_LOG_INTERVAL_MS)
  statusTimer.unref()

  let stopping = false
  const shutdown = async () => {
    if (stopping) return
    stopping = true
    clearInterval(statusTimer)
    await relay.stop()
    await Promise.allSettled(sinks.map((s) => s.close()))
    await sql.end({ timeout: 5 })
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown())
  process.on('SIGINT', () => void shutdown())
})
