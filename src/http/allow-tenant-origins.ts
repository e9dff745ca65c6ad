import type { MiddlewareHandler } from 'hono'
import type { Queryable } from '../db/queryable.ts'
import { isOriginAllowedByAnyTenant } from '../db/sessions.ts'
import type { AppEnv } from './app-env.ts'

const ALLOW_METHODS = 'GET,POST,PUT,PATCH,DELETE'
const ALLOW_HEADERS = 'authorization,content-type,idempotency-key,x-csrf-token'
const EXPOSE_HEADERS = 'retry-after,www-authenticate,content-disposition'
const MAX_AGE_SECONDS = '600'

/**
 * CORS for browser apps on other origins: an origin is allowed when a tenant lists it (exact match of
 * `scheme://host[:port]`); each request is then checked against its own tenant's list (login, refresh,
 * and every token-authenticated route). Credentials (cookies) only on /v1/auth/, where they are used.
 *
 * The headers are those of hono's `cors()` with these options. Unlike it, this adds them to the answer
 * once the handler has given it, instead of writing them to `c.res` beforehand: hono then rebuilds every
 * answer around a stream of its body to merge them in (and again for `Vary`), which on Node turns the
 * plain string body of a login's answer into a web stream read back chunk by chunk, several times the CPU
 * of writing it out.
 *
 * @example
 * app.use('*', allowTenantOrigins(sql))
 */
export function allowTenantOrigins(sql: Queryable): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header('origin') || ''
    const allowed = origin && (await isOriginAllowedByAnyTenant(sql, origin)) ? origin : null
    const headers: Record<string, string> = {
      ...(allowed && { 'Access-Control-Allow-Origin': allowed }),
      ...(c.req.path.startsWith('/v1/auth/') && { 'Access-Control-Allow-Credentials': 'true' }),
      'Access-Control-Expose-Headers': EXPOSE_HEADERS,
    }
    if (c.req.method === 'OPTIONS') {
      return c.body(null, 204, {
        ...headers,
        Vary: ['Origin', 'Access-Control-Request-Headers'],
        'Access-Control-Max-Age': MAX_AGE_SECONDS,
        'Access-Control-Allow-Methods': ALLOW_METHODS,
        'Access-Control-Allow-Headers': ALLOW_HEADERS,
      })
    }
    await next()
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value)
    c.res.headers.append('Vary', 'Origin')
  }
}
