import type { MiddlewareHandler } from 'hono'
import { ApiError } from '../errors/codes.ts'
import type { AppEnv } from './app-env.ts'

/**
 * Refuses a query string holding NUL (`%00`) in a name or a value, naming the parameter, before any route
 * reads it: PostgreSQL cannot store or compare NUL, and no parameter of this API needs it.
 */
export function refuseUnstorableQuery(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const search = c.req.url.indexOf('?')
    if (search >= 0) {
      const bad = [...new URLSearchParams(c.req.url.slice(search + 1))].filter(([name, value]) => name.includes('\u0000') || value.includes('\u0000'))
      if (bad.length > 0) {
        const errors = bad.slice(0, 20).map(([name]) => ({ field: name.replaceAll('\u0000', '\ufffd'), detail: 'must not contain NUL characters' }))
        throw ApiError.from('validation_failed', `invalid query: ${errors.map((e) => e.field).join(', ')}`, errors)
      }
    }
    await next()
  }
}
