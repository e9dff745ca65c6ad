import process from 'node:process'
import { ConfigError } from '../config/env.ts'
import { DataDirectoryLockedError } from '../db/embedded-postgres.ts'

/**
 * Why the service could not start, each with its exit code (sysexits.h, so that a supervisor can tell
 * them apart; 78, a bad configuration, is runCommand's).
 */
export const START_UP_FAILURES = {
  /** No PostgreSQL answered at DATABASE_URL: refused, unresolvable, unreachable or timed out. */
  database_unreachable: 69,
  /** The server answered, but has no database of that name. */
  database_missing: 66,
  /** The server refused the role or its password. */
  database_login_refused: 77,
  /** Another process runs on the embedded database's data directory. */
  data_directory_locked: 75,
  /** Anything else. */
  start_up_failed: 70,
} as const

export type StartUpFailure = keyof typeof START_UP_FAILURES

const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED']

/** The error's code, or that of the first error inside it (connecting to `localhost` tries two addresses). */
function codeOf(error: unknown): string {
  const e = error as { code?: unknown; errors?: unknown[] } | null
  if (typeof e?.code === 'string') return e.code
  return Array.isArray(e?.errors) && e.errors.length > 0 ? codeOf(e.errors[0]) : ''
}

function messageOf(error: unknown): string {
  const e = error as { message?: unknown; errors?: unknown[] } | null
  if (typeof e?.message === 'string' && e.message !== '') return e.message
  return Array.isArray(e?.errors) && e.errors.length > 0 ? messageOf(e.errors[0]) : String(error)
}

/** Names a start-up failure by the error's code (PostgreSQL's SQLSTATE or the socket's), never its message. */
export function classifyStartUpFailure(error: unknown): StartUpFailure {
  if (error instanceof DataDirectoryLockedError) return 'data_directory_locked'
  const code = codeOf(error)
  if (code === '3D000') return 'database_missing'
  // 28000 invalid_authorization_specification (no such role, pg_hba refusal), 28P01 invalid_password.
  if (code === '28000' || code === '28P01') return 'database_login_refused'
  // 57P03 cannot_connect_now (starting up, shutting down), 08* connection exceptions.
  if (UNREACHABLE.includes(code) || code === '57P03' || code.startsWith('08')) return 'database_unreachable'
  return 'start_up_failed'
}

/**
 * Ends a start that failed: one JSON line on stderr naming the reason, the error's message (never its
 * stack) and the exit code, then exits with that code. A ConfigError is left to runCommand (exit 78).
 *
 * @example
 * const services = await bootServices(env, nodePeerAddress).catch(exitOnStartUpFailure)
 */
export function exitOnStartUpFailure(error: unknown): never {
  if (error instanceof ConfigError) throw error
  const reason = classifyStartUpFailure(error)
  const exitCode = START_UP_FAILURES[reason]
  const code = codeOf(error)
  console.error(
    JSON.stringify({ time: new Date().toISOString(), service: 'authtrail', level: 'fatal', msg: 'start-up failed', reason, error: messageOf(error), ...(code && { code }), exit_code: exitCode }),
  )
  process.exit(exitCode)
}
