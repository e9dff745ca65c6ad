import type { MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import type { TokenService } from '../auth/tokens.ts'
import type { Role } from '../core/tenancy.ts'
import { ApiError } from '../errors/codes.ts'
import type { AppContext, AppEnv } from './app-env.ts'

const JWT_SHAPE = /^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$/
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The service's own origin as the client sees it (behind a trusted proxy, from its forwarded headers). */
export function ownOrigin(c: AppContext, trustProxy: boolean): string {
  const url = new URL(c.req.url)
  if (!trustProxy) return url.origin
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim()
  const host = c.req.header('x-forwarded-host')?.split(',')[0]?.trim()
  return `${proto ? `${proto}:` : url.protocol}//${host ?? url.host}`
}

/** The Origin header when it names another origin than the service's; null for same-origin and non-browser requests. */
export function crossOriginOf(c: AppContext, trustProxy: boolean): string | null {
  const origin = c.req.header('origin')
  if (origin === undefined || origin === ownOrigin(c, trustProxy)) return null
  return origin
}

/**
 * Requires an access token carrying one of the roles: the bearer JWT (algorithm pinned by the token
 * service) or, for same-site browser apps, the session cookie, then checks its session for this request
 * (revocation, current role, CSRF token beside a cookie, allowed origin). The claims' tenant and
 * organisation then scope every query the handler makes.
 */
export function requireRole(tokens: TokenService, roles: readonly Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const guard = c.get('sessionGuard')
    // Wired by createApp for every request; without it no token is admitted.
    if (!guard) throw new Error('no session guard: requireRole used outside createApp')
    const header = c.req.header('authorization')
    const bearer = header === undefined ? undefined : /^Bearer (\S+)$/.exec(header)?.[1]
    const cookie = header === undefined ? getCookie(c, guard.cookieName) : undefined
    const token = bearer ?? cookie
    if (!token || !JWT_SHAPE.test(token)) throw new ApiError('unauthorized', 'a bearer token is required', undefined, { 'WWW-Authenticate': 'Bearer' })
    let claims
    try {
      claims = await tokens.verify(token)
    } catch {
      throw new ApiError('unauthorized', 'the token is invalid or expired', undefined, { 'WWW-Authenticate': 'Bearer error="invalid_token"' })
    }
    const presented = {
      viaCookie: bearer === undefined,
      csrfToken: c.req.header('x-csrf-token') ?? null,
      unsafeMethod: !SAFE_METHODS.has(c.req.method),
      crossOrigin: crossOriginOf(c, guard.trustProxy),
    }
    await guard.check(claims, presented)
    if (!roles.includes(claims.role)) throw ApiError.from('forbidden', `requires one of: ${roles.join(', ')}`)
    c.set('session', claims)
    c.set('recheckSession', () => guard.check(claims, presented))
    await next()
  }
}
