import type { MiddlewareHandler } from 'hono'
import { withRequestDeadline } from '../db/request-deadline.ts'
import { ApiError } from '../errors/codes.ts'
import type { AppEnv } from './app-env.ts'

/**
 * Answers every request within `ms`: a handler still waiting then (on a stalled database, typically)
 * is answered 503 + Retry-After. The statement and lock timeouts, set below this bound, end slow database
 * work itself; when the database is not slow but unreachable (a stalled network, where no server-side
 * timeout runs), the request's deadline ends it: every transaction begun for the request checks it before
 * committing and rolls back once the request has been answered (see db/request-deadline.ts).
 */
export function boundRequestTime(ms: number): MiddlewareHandler<AppEnv> {
  // Appends must end on the server this long before the answer is due, so that the answer of one that
  // committed is back before the request could be answered 503 (see RequestDeadline).
  const marginMs = Math.min(500, Math.floor(ms / 4))
  return async (_c, next) => {
    const abort = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort()
        reject(new ApiError('service_unavailable', `no answer within ${ms} ms`, undefined, { 'Retry-After': '5' }))
      }, ms)
    })
    try {
      await Promise.race([withRequestDeadline({ signal: abort.signal, writeBy: new Date(Date.now() + ms - marginMs) }, next), expired])
    } finally {
      clearTimeout(timer)
    }
  }
}
