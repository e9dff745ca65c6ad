import { z } from '@hono/zod-openapi'
import { ROLES } from '../../core/tenancy.ts'
import { problem, routesOf, SET_COOKIE_HEADER } from '../schemas.ts'
import { SessionSchema } from './login.routes.ts'

const route = routesOf({ tag: 'authentication', bearer: false })
const signedIn = routesOf({ tag: 'authentication', bearer: true })

export const RefreshBody = z
  .object({
    refresh_token: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .openapi({ description: "The session's current refresh token; a same-site web app may omit it and send the refresh cookie (with X-CSRF-Token) instead" }),
    device_id: z.string().min(1).max(128).optional().openapi({ description: 'Required for a mobile session: the device it was opened on', example: 'ios-6F2C9A' }),
  })
  .strict()
  .openapi('RefreshRequest')

export const CsrfHeader = z.object({
  'x-csrf-token': z.string().max(256).optional().openapi({ description: 'The csrf_token of the login; required when the session cookie is the credential' }),
})

export const refreshRoute = route('post', '/auth/refresh', 'Rotate the refresh token and get a new access token (reuse of a rotated token revokes the session)', {
  operationId: 'refreshSession',
  request: { headers: CsrfHeader, body: { required: true, content: { 'application/json': { schema: RefreshBody } } } },
  responses: {
    200: { description: 'A new access token and a new refresh token (the presented one is spent)', headers: SET_COOKIE_HEADER, content: { 'application/json': { schema: SessionSchema } } },
    400: problem('Invalid request'),
    401: problem('The refresh token is invalid, expired, revoked, reused or presented from another device'),
    403: problem('Missing or wrong CSRF token (cookie), or an origin the tenant does not allow'),
    503: problem('The refresh could not be recorded; nothing was written'),
  },
})

export const LogoutBody = z
  .object({ scope: z.enum(['session', 'all']).default('session').openapi({ description: '`session`: this session; `all`: every session of the user' }) })
  .strict()
  .openapi('LogoutRequest')

export const LogoutResult = z.object({ sessions_revoked: z.number().int(), event_id: z.string().uuid() }).openapi('LogoutResult')

export const logoutRoute = signedIn('post', '/auth/logout', 'Log out of this session or of every session of the user', {
  operationId: 'logOut',
  request: { headers: CsrfHeader, body: { required: false, content: { 'application/json': { schema: LogoutBody } } } },
  responses: {
    200: { description: 'Logged out; the cookies are cleared', headers: SET_COOKIE_HEADER, content: { 'application/json': { schema: LogoutResult } } },
    401: problem('No valid session'),
    403: problem('Missing or wrong CSRF token (cookie), or an origin the tenant does not allow'),
  },
})

export const CurrentSession = z
  .object({
    user_id: z.string().uuid(),
    identifier: z.string(),
    tenant_id: z.string().uuid(),
    tenant: z.string().openapi({ description: 'The tenant slug' }),
    organisation_id: z.string().uuid(),
    role: z.enum(ROLES),
    session_id: z.string().uuid(),
    channel: z.enum(['web', 'mobile']),
    device_id: z.string().nullable(),
    expires_at: z.string().openapi({ description: 'When the access token expires' }),
    session_expires_at: z.string().openapi({ description: 'When the session ends, refreshes notwithstanding' }),
  })
  .openapi('CurrentSession')

export const currentSessionRoute = signedIn('get', '/auth/session', 'Who am I: the user, tenant, organisation, role and expiry of the presented token', {
  operationId: 'getSession',
  responses: {
    200: { description: 'The current session', content: { 'application/json': { schema: CurrentSession } } },
    401: problem('No valid session'),
    403: problem('An origin the tenant does not allow'),
  },
})

export const RevokeBody = z.object({ user_id: z.string().uuid() }).strict().openapi('RevokeSessionsRequest')

export const revokeSessionsRoute = signedIn('post', '/auth/sessions/revoke', "Revoke every session of a user of the administrator's tenant (admin)", {
  operationId: 'revokeUserSessions',
  request: { headers: CsrfHeader, body: { required: true, content: { 'application/json': { schema: RevokeBody } } } },
  responses: {
    200: { description: 'Revoked; their access tokens are refused from the next request', content: { 'application/json': { schema: LogoutResult } } },
    400: problem('Invalid request'),
    401: problem('No valid session'),
    403: problem('Not an administrator, missing CSRF token, or an origin the tenant does not allow'),
    404: problem('No such user in the tenant'),
  },
})

export const Jwks = z
  .object({
    keys: z.array(
      z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig') }),
    ),
  })
  .openapi('JsonWebKeySet')

export const jwksRoute = routesOf({ tag: 'keys', bearer: false })('get', '/.well-known/jwks.json', 'The public keys access tokens are signed with (RFC 7517)', {
  operationId: 'getJwks',
  responses: { 200: { description: 'The key set (empty when the service runs with HS256 in development)', content: { 'application/json': { schema: Jwks } } } },
})
