import { ConfigError, loadEnv, type Env } from '../config/env.ts'
import type { Sql } from '../db/client.ts'
import { connectDatabase } from '../db/tls-options.ts'

/**
 * Runs a command-line entrypoint: the exit code it returns becomes the process's; a ConfigError (bad usage
 * or configuration) prints its message, which names the variable or flag, and exits 78 (EX_CONFIG).
 *
 * @example
 * await runCommand(async () => (await check()) ? 0 : 1)
 */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body()
    if (typeof code === 'number') process.exitCode = code
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(78)
    }
    throw error
  }
}

/** The validated environment of a command that needs a real PostgreSQL server (`purpose` says why). */
export function loadCommandEnv(purpose: string): Env & { DATABASE_URL: string } {
  const env = loadEnv(process.env)
  if (env.DATABASE_URL === undefined) throw new ConfigError(`invalid configuration:\n  DATABASE_URL: required ${purpose}`)
  return env as Env & { DATABASE_URL: string }
}

/**
 * Runs `fn` with a one-connection SQL client that is closed afterwards, whatever happens; `variable` names
 * the URL's variable in configuration errors (an unreadable certificate file, say).
 */
export async function withSql<T>(url: string, fn: (sql: Sql) => Promise<T>, variable = 'DATABASE_URL'): Promise<T> {
  const sql = connectDatabase(variable, url, { max: 1 })
  try {
    return await fn(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}
