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
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT'].includes(code)) {
    return true
  }
  // 08 connection exception, 53 insufficient resources, 57 operator intervention, 58 system error,
  // 40 transaction rollback (serialisation, deadlock), 25 invalid transaction state, XX internal.
  return /^(08|53|57|58|40|25|XX)/.test(code)
}
