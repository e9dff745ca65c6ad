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
  // committed is back before the request could be answered 503 (see RequestDeadline). A write still in
  // flight when the answer falls due is waited for as long again at most: on a loaded machine its answer
  // may already be in the socket behind the timer, and it decides whether the attempt was recorded.
  const marginMs = Math.min(500, Math.floor(ms / 4))
  return async (_c, next) => {
    const abort = new AbortController()
    const writesInFlight = new Map<Promise<unknown>, number | undefined>()
    let timer: ReturnType<typeof setTimeout> | undefined
    let expire = () => {}
    const expired = new Promise<never>((_, reject) => {
      expire = () => reject(new ApiError('service_unavailable', `no answer within ${ms} ms`, undefined, { 'Retry-After': '5' }))
    })
    // Past the deadline, each write begun (finding out whether a lost commit stood, typically) waits anew.
    const onWrite = (waitMs: number | undefined) => {
      if (!abort.signal.aborted) return
      clearTimeout(timer)
      timer = setTimeout(expire, waitMs ?? marginMs)
    }
    timer = setTimeout(() => {
      abort.abort()
      if (writesInFlight.size === 0) expire()
      else timer = setTimeout(expire, Math.max(...[...writesInFlight.values()].map((waitMs) => waitMs ?? marginMs)))
    }, ms)
    try {
      await Promise.race([withRequestDeadline({ signal: abort.signal, writeBy: new Date(Date.now() + ms - marginMs), writeToken: crypto.randomUUID(), writesInFlight, onWrite }, next), expired])
    } finally {
      clearTimeout(timer)
    }
  }
}
