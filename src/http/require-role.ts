import type { MiddlewareHandler } from 'hono'
import type { TokenService } from '../auth/tokens.ts'
import type { Role } from '../core/tenancy.ts'
import { ApiError } from '../errors/codes.ts'
import type { AppEnv } from './app-env.ts'

/**
 * Requires a bearer JWT (algorithm pinned by the token service) carrying one of the roles. The claims'
 * tenant and organisation then scope every query the handler makes.
 */
export function requireRole(tokens: TokenService, roles: readonly Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer ([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)$/.exec(header)
    if (!match) throw new ApiError('unauthorized', 'a bearer token is required', undefined, { 'WWW-Authenticate': 'Bearer' })
    let claims
    try {
      claims = await tokens.verify(match[1]!)
    } catch {
      throw new ApiError('unauthorized', 'the token is invalid or expired', undefined, { 'WWW-Authenticate': 'Bearer error="invalid_token"' })
    }
    if (!roles.includes(claims.role)) throw ApiError.from('forbidden', `requires one of: ${roles.join(', ')}`)
    c.set('session', claims)
    await next()
  }
}
