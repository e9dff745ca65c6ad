import { ConfigError, type Env } from '../config/env.ts'
import { createSql, type Sql } from '../db/client.ts'
import { connectDatabase } from '../db/tls-options.ts'
import { startEmbeddedPostgres } from '../db/embedded-postgres.ts'
import { migrate, roleNamesOf } from '../db/migrate.ts'

/** A database connection a command holds for its run, and how to let it go. */
export interface CommandDatabase {
  sql: Sql
  /** Where the embedded database keeps its data, or null for DATABASE_URL's server. */
  embeddedDataDir: string | null
  close(): Promise<void>
}

/**
 * Connects to `url`, or, when it is undefined in development, to the embedded PostgreSQL in
 * DATA_DIR/pglite (the one `npm start` runs on), migrated first as the service does. PGlite holds one
 * connection and no lock on its folder: stop the service before running a command against it.
 */
export async function openDatabase(
  env: Pick<Env, 'AUTHTRAIL_ENV' | 'DATA_DIR' | 'DATABASE_OWNER_ROLE' | 'DATABASE_RUNTIME_ROLE' | 'DATABASE_RETENTION_ROLE' | 'DATABASE_AUDITOR_ROLE'>,
  /** The URL and the variable it came from, which configuration errors name (an unreadable certificate, say). */
  url: { variable: string; value: string | undefined },
  options: { max?: number } = {},
): Promise<CommandDatabase> {
  if (url.value !== undefined) {
    const sql = connectDatabase(url.variable, url.value, { max: options.max ?? 2 })
    return { sql, embeddedDataDir: null, close: () => sql.end({ timeout: 5 }) }
  }
  if (env.AUTHTRAIL_ENV !== 'development') throw new ConfigError('invalid configuration:\n  DATABASE_URL: must be set outside development (the embedded database is for development only)')
  const embeddedDataDir = `${env.DATA_DIR}/pglite`
  const embedded = await startEmbeddedPostgres(embeddedDataDir)
  const sql = createSql(embedded.url, { max: 1 })
  try {
    await migrate(sql, { roles: roleNamesOf(env) })
  } catch (error) {
    await sql.end({ timeout: 5 })
    await embedded.stop()
    throw error
  }
  return {
    sql,
    embeddedDataDir,
    close: async () => {
      await sql.end({ timeout: 5 })
      await embedded.stop()
    },
  }
}

/** Runs `fn` with the command's database and closes it afterwards, whatever happens. */
export async function withDatabase<T>(open: () => Promise<CommandDatabase>, fn: (db: CommandDatabase) => Promise<T>): Promise<T> {
  const db = await open()
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}
