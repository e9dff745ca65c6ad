/**
 * Recognises PostgreSQL errors by SQLSTATE, never by message text.
 */
interface PgLikeError {
  code?: string
}

function asPg(error: unknown): PgLikeError {
  return typeof error === 'object' && error !== null ? (error as PgLikeError) : {}
}

/**
 * True when the database could not take the write at all: connection failures, shutdown, resource
 * exhaustion, or a transaction the server aborted. The login then fails closed with 503.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = asPg(error)
  const code = e.code ?? ''
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'REQUEST_DEADLINE', 'NO_ROW'].includes(code)) {
    return true
  }
  // 08 connection exception, 53 insufficient resources, 57 operator intervention, 58 system error,
  // 40 transaction rollback (serialisation, deadlock), 25 invalid transaction state, XX internal.
  // 55P03: lock_timeout expired (a row lock held too long); 57014 (statement_timeout) is in class 57.
  return code === '55P03' || /^(08|53|57|58|40|25|XX)/.test(code)
}

/**
 * True when the connection was lost mid-statement (reset, closed, ended): the statement may or may not have
 * taken effect, a COMMIT included. Not a timeout or a refusal, after which the server is known to have
 * rolled back.
 */
export function isConnectionLost(error: unknown): boolean {
  return ['ECONNRESET', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED'].includes(asPg(error).code ?? '') || asPg(error).code === '57P01'
}

/**
 * A statement that returns exactly one row by construction (`FROM (SELECT 1)`, `SELECT EXISTS …`) came
 * back with none. Seen only while connections were being reset under load (postgres.js 3.4.9 resolved
 * such a query with an empty result): the answer cannot be trusted, so the request fails closed as if
 * the database were unavailable (503), with nothing written on the strength of it.
 */
export class NoRowError extends Error {
  override name = 'NoRowError'
  readonly code = 'NO_ROW'
  constructor(what: string) {
    super(`${what}: the database answered with no row where one is always returned`)
  }
}

/** The one row a statement always returns; NoRowError when the answer has none (see NoRowError). */
export function theOneRow<T>(rows: readonly T[], what: string): T {
  const row = rows[0]
  if (row === undefined) throw new NoRowError(what)
  return row
}

/** True for a unique violation (23505) on one of the named constraints. */
export function isUniqueViolation(error: unknown, constraints: readonly string[]): boolean {
  const e = asPg(error) as PgLikeError & { constraint_name?: string }
  return e.code === '23505' && e.constraint_name !== undefined && constraints.includes(e.constraint_name)
}

/** True when PostgreSQL refused a statement for lack of privilege (42501). */
export function isInsufficientPrivilege(error: unknown): boolean {
  return asPg(error).code === '42501'
}

/** True when apply_admin_events() found a row no longer as the change's event says it was (AT101). */
export function isChangedMeanwhile(error: unknown): boolean {
  return asPg(error).code === 'AT101'
}

/** Runs `attempt` again (up to `tries` times in all) while it fails because its rows changed meanwhile. */
export async function retryWhileChangedMeanwhile<T>(attempt: () => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt()
    } catch (error) {
      if (i >= tries || !isChangedMeanwhile(error)) throw error
    }
  }
}
