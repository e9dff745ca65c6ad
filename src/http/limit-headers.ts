import type { MiddlewareHandler } from 'hono'
import { ApiError } from '../errors/codes.ts'
import type { AppContext, AppEnv } from './app-env.ts'

/** Request headers are small; more than this, all names and values together, is refused with 431. */
export const MAX_HEADER_BYTES = 16 * 1024

/**
 * Why the HTTP server itself refused a request before the application could read it (its headers were
 * over the server's own limit, or not valid HTTP): the server then hands the application a stand-in
 * request with only the method and path, and this reason in its bindings, so that the refusal is answered
 * and (on an authentication route) audited as any other.
 */
export type ServerRefusal = 'headers_too_large' | 'malformed_headers'

/** The bindings key under which a runtime passes a ServerRefusal. */
export const SERVER_REFUSAL = 'authtrailServerRefusal'

function refusalError(reason: ServerRefusal): ApiError {
  if (reason === 'headers_too_large') {
    return ApiError.from('headers_too_large', `the request headers must total at most ${MAX_HEADER_BYTES} bytes`, [{ field: 'headers', detail: `must total at most ${MAX_HEADER_BYTES} bytes` }])
  }
  return ApiError.from('malformed_request', 'a header is not valid HTTP', [{ field: 'headers', detail: 'a header name or value holds bytes HTTP does not allow' }])
}

/** The refusal a request gets before anything else is read from it, or null: headers too large or refused by the server. */
export function headerRefusal(c: AppContext): ApiError | null {
  const env = c.env as Record<string, unknown> | undefined
  const reason = env && typeof env === 'object' ? (env[SERVER_REFUSAL] as ServerRefusal | undefined) : undefined
  if (reason) return refusalError(reason)
  let size = 0
  c.req.raw.headers.forEach((value, name) => (size += name.length + value.length + 4))
  return size > MAX_HEADER_BYTES ? refusalError('headers_too_large') : null
}

/** Refuses every request whose headers headerRefusal refuses (the authentication routes audit theirs first). */
export function limitHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const refusal = headerRefusal(c)
    if (refusal) throw refusal
    await next()
  }
}
