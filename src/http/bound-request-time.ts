import type { MiddlewareHandler } from 'hono'
import { ApiError } from '../errors/codes.ts'
import type { AppEnv } from './app-env.ts'

/**
 * Answers every request within `ms`: a handler still waiting then (on a stalled database, typically)
 * is answered 503 + Retry-After. The statement and lock timeouts, set below this bound, end the database
 * work itself, so that such an attempt's transaction rolls back rather than committing after the answer.
 */
export function boundRequestTime(ms: number): MiddlewareHandler<AppEnv> {
  return async (_c, next) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ApiError('service_unavailable', `no answer within ${ms} ms`, undefined, { 'Retry-After': '5' })), ms)
    })
    try {
      await Promise.race([next(), expired])
    } finally {
      clearTimeout(timer)
    }
  }
}
