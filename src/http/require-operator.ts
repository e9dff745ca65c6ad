import type { MiddlewareHandler } from 'hono'
import { findOperatorByToken } from '../admin/platform-operators.ts'
import type { Sql } from '../db/client.ts'
import { ApiError } from '../errors/codes.ts'
import type { AppEnv } from './app-env.ts'

/** The shape of an operator credential: `atop_` and 32 random bytes in base64url. */
const OPERATOR_BEARER = /^Bearer (atop_[A-Za-z0-9_-]{43})$/

/**
 * Requires a platform operator's credential (created by `authtrail operator bootstrap`; there is no
 * default). Tenant tokens are refused here, and operator credentials everywhere else.
 */
export function requireOperator(sql: Sql): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const match = OPERATOR_BEARER.exec(c.req.header('authorization') ?? '')
    const operator = match ? await findOperatorByToken(sql, match[1]!) : null
    if (!operator) throw new ApiError('unauthorized', 'a platform operator credential is required', undefined, { 'WWW-Authenticate': 'Bearer realm="platform"' })
    c.set('operator', operator)
    await next()
  }
}
