import type { Command } from 'commander'
import { ConfigError, loadMigrationEnv } from '../../config/env.ts'
import { migrate, roleNamesOf } from '../../db/migrate.ts'
import { prepareDatabase } from '../../db/prepare-database.ts'
import { createLogger } from '../../http/logger.ts'
import { createOutboxRelay } from '../../outbox/create-outbox-relay.ts'
import { getRelayStatus } from '../../outbox/relay-status.ts'
import { commandSinks } from '../command-sinks.ts'
import { commandEnv, emit, type ActionResult } from '../command-context.ts'
import { openDatabase, withDatabase } from '../open-database.ts'

type Run = (action: (...args: never[]) => Promise<ActionResult>) => (...args: unknown[]) => Promise<void>

const STATUS_LOG_INTERVAL_MS = 60_000

export interface ServiceEntrypoints {
  /** Starts the HTTP service (the runtime's entrypoint, wired by the caller: commands sit below runtimes). */
  serve(): Promise<unknown>
}

export function registerServiceCommands(program: Command, run: Run, entrypoints: ServiceEntrypoints): void {
  program
    .command('migrate')
    .description('apply the migrations and grant the database roles, as the owner role (MIGRATION_DATABASE_URL; outside production DATABASE_URL, or the embedded database)')
    .option('--json', 'print the result as JSON')
    .action(
      run(async (options: { json?: boolean }) => {
        const env = loadMigrationEnv(process.env)
        const url = env.MIGRATION_DATABASE_URL ?? (env.AUTHTRAIL_ENV === 'production' ? undefined : env.DATABASE_URL)
        if (url === undefined && env.AUTHTRAIL_ENV === 'production') throw new ConfigError("invalid configuration:\n  MIGRATION_DATABASE_URL: required to migrate (the owner role's connection)")
        const roles = roleNamesOf(env)
        const settings = { ...env, DATA_DIR: process.env.DATA_DIR || '.data' }
        const variable = env.MIGRATION_DATABASE_URL ? 'MIGRATION_DATABASE_URL' : 'DATABASE_URL'
        const result = await withDatabase(() => openDatabase(settings, { variable, value: url }, { max: 1 }), ({ sql }) => migrate(sql, { roles }))
        emit(options.json, { ...result, roles }, [
          ...result.applied.map((name) => `applied ${name}`),
          `${result.applied.length} applied, ${result.skipped.length} already applied; roles ${Object.values(roles).join(', ')} granted`,
        ])
        return 0
      }),
    )

  program
    .command('serve')
    .description('run the service (the same as npm start): HTTP API, console, and the relay unless RELAY_ENABLED=false')
    .action(
      run(async () => {
        await entrypoints.serve()
        return 'running'
      }),
    )

  program
    .command('relay')
    .description('run an outbox relay on its own (as many as you like; they share the work) until SIGTERM or SIGINT')
    .action(
      run(async () => {
        const env = commandEnv()
        const sinks = commandSinks(env)
        if (sinks.length === 0) throw new ConfigError('invalid configuration:\n  SYSLOG_URL, MONGO_URL: set at least one sink for the relay')
        const log = createLogger('authtrail-relay')
        const db = await openDatabase(env, { variable: 'DATABASE_URL', value: env.DATABASE_URL }, { max: sinks.length + 2 })
        await prepareDatabase(db.sql, env)
        const relay = createOutboxRelay({
          sql: db.sql,
          sinks,
          batchSize: env.RELAY_BATCH_SIZE,
          maxAttempts: env.RELAY_MAX_ATTEMPTS,
          backoff: { baseMs: env.RELAY_BACKOFF_BASE_MS, maxMs: env.RELAY_BACKOFF_MAX_MS },
          // PGlite serves one connection, which LISTEN would hold: the embedded database is polled.
          listen: db.embeddedDataDir === null,
          log,
        })
        await relay.start()
        log({ level: 'info', msg: 'outbox relay started', sinks: sinks.map((s) => s.name) })
        const statusTimer = setInterval(() => {
          getRelayStatus(db.sql, { sinks: sinks.map((s) => s.name) })
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
          await db.close()
          process.exit(0)
        }
        process.on('SIGTERM', () => void shutdown())
        process.on('SIGINT', () => void shutdown())
        return 'running'
      }),
    )
}
