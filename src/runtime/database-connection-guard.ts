import { isDatabaseUnavailable } from '../db/sqlstate.ts'

/**
 * Keeps the process alive when a lost database connection surfaces as a promise rejection nobody awaits.
 * Under repeated connection resets postgres.js occasionally rejects such a promise with the bare socket
 * error (`read ECONNRESET`, no stack of ours; porsager/postgres#600 reports the same); every request and
 * background round already handles its own failures, so the process would die for nothing and every
 * later request be refused until a restart. Any other unhandled rejection still ends the process.
 *
 * @example
 * process.on('unhandledRejection', survivesLostDatabaseConnections(log))
 */
export function survivesLostDatabaseConnections(log: (line: string) => void): (reason: unknown) => void {
  return (reason) => {
    // Connection failures, resets and closes included (isConnectionLost is a subset of these).
    if (!isDatabaseUnavailable(reason)) throw reason
    const code = (reason as { code?: unknown }).code
    log(JSON.stringify({ time: new Date().toISOString(), service: 'authtrail', level: 'warn', msg: 'database connection lost outside a request', code: typeof code === 'string' ? code : null }))
  }
}
