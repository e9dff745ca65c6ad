import type { OpenAPIHono } from '@hono/zod-openapi'
import { setCookie } from 'hono/cookie'
import { attemptLogin, type LoginDeps, type LoginResult } from '../../auth/attempt-login.ts'
import { registerUser } from '../../auth/register-user.ts'
import type { PasswordHasher } from '../../auth/password-hasher.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import type { Channel } from '../../core/event-types.ts'
import { UNATTRIBUTED_TENANT_ID } from '../../core/tenancy.ts'
import { findTenantBySlug, type Tenant } from '../../db/tenants.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppContext, AppEnv, ClientAddressResolver } from '../../http/app-env.ts'
import { auditRejectedAttempts, type RejectionAuditDeps } from '../../http/audit-rejected-attempts.ts'
import { requestOrigin } from '../../http/client-origin.ts'
import { limitBody } from '../../http/limit-body.ts'
import { problemResponse } from '../../http/problem-response.ts'
import type { ServiceMetrics } from '../../metrics/service-metrics.ts'
import { createRouter } from '../create-router.ts'
import { mobileLoginRoute, registerRoute, webLoginRoute } from './login.routes.ts'

export interface AuthRouteDeps extends LoginDeps, RejectionAuditDeps {
  hasher: PasswordHasher
  /** Secure cookies everywhere but plain-HTTP development. */
  secureCookies: boolean
  metrics?: Pick<ServiceMetrics, 'recordLockout'>
}

export const SESSION_COOKIE = 'authtrail_session'

async function resolveTenant(deps: AuthRouteDeps, slug: string): Promise<Tenant> {
  const tenant = await findTenantBySlug(deps.sql, slug)
  if (!tenant || tenant.id === UNATTRIBUTED_TENANT_ID) {
    throw ApiError.from('unknown_tenant', 'no such tenant', [{ field: 'tenant', detail: 'unknown tenant' }])
  }
  return tenant
}

/** Translates a login result to HTTP. Unknown identifier and wrong password produce the same bytes. */
function loginResponse(c: AppContext, result: LoginResult, deps: AuthRouteDeps, channel: Channel): Response {
  c.set('attemptAudited', true)
  if (result.kind === 'invalid_credentials') return problemResponse(c, ApiError.from('invalid_credentials'), { event_id: result.eventId })
  if (result.kind === 'locked') {
    if (result.newLockout) deps.metrics?.recordLockout(channel)
    const error = new ApiError('account_locked', 'too many failed attempts; try again later', undefined, { 'Retry-After': String(result.retryAfterSeconds) })
    return problemResponse(c, error, { event_id: result.eventId })
  }
  const expiresIn = result.claims.exp - Math.floor(deps.clock().getTime() / 1000)
  if (channel === 'web') {
    setCookie(c, SESSION_COOKIE, result.token, {
      httpOnly: true,
      secure: deps.secureCookies,
      sameSite: 'Strict',
      path: '/',
      maxAge: Math.max(0, expiresIn),
    })
  }
  c.header('Cache-Control', 'no-store')
  return c.json({ token_type: 'Bearer' as const, access_token: result.token, expires_in: expiresIn, event_id: result.eventId }, 200)
}

/** The login and registration routes; each refused attempt is audited by the middleware. Mounted at /v1. */
export function createAuthRoutes(deps: AuthRouteDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()
  app.use(webLoginRoute.path, auditRejectedAttempts(deps, { eventType: 'login_failed', channel: 'web' }), limitBody())
  app.use(mobileLoginRoute.path, auditRejectedAttempts(deps, { eventType: 'login_failed', channel: 'mobile' }), limitBody())
  app.use(registerRoute.path, auditRejectedAttempts(deps, { eventType: 'registration_failed', channel: 'web' }), limitBody())

  const login = async (c: AppContext, body: { tenant: string; identifier: string; password: string }, channel: 'web' | 'mobile', deviceId: string | null, idempotencyKey: string | undefined) => {
    const tenant = await resolveTenant(deps, body.tenant)
    const result = await attemptLogin(deps, {
      tenant,
      identifier: normalizeIdentifier(body.identifier),
      password: body.password,
      origin: requestOrigin(c, deps.resolveAddress, deps.trustProxy, channel, deviceId),
      idempotencyKey: idempotencyKey ?? null,
    })
    return loginResponse(c, result, deps, channel)
  }
  app.openapi(webLoginRoute, async (c) => (await login(c, c.req.valid('json'), 'web', null, c.req.valid('header')['idempotency-key'])) as never)
  app.openapi(mobileLoginRoute, async (c) => {
    const body = c.req.valid('json')
    return (await login(c, body, 'mobile', body.device_id, c.req.valid('header')['idempotency-key'])) as never
  })

  app.openapi(registerRoute, async (c) => {
    const body = c.req.valid('json')
    const tenant = await resolveTenant(deps, body.tenant)
    const result = await registerUser(deps, {
      tenant,
      organisationId: body.organisation_id ?? null,
      identifier: normalizeIdentifier(body.identifier),
      password: body.password,
      origin: requestOrigin(c, deps.resolveAddress, deps.trustProxy, 'web'),
      idempotencyKey: c.req.valid('header')['idempotency-key'] ?? null,
    })
    c.set('attemptAudited', true)
    if (result.kind === 'weak_password') {
      return problemResponse(c, ApiError.from('weak_password', result.detail, [{ field: 'password', detail: result.detail }]), { event_id: result.eventId }) as never
    }
    if (result.kind === 'unknown_organisation') {
      return problemResponse(c, ApiError.from('validation_failed', 'unknown organisation', [{ field: 'organisation_id', detail: 'unknown organisation' }]), { event_id: result.eventId }) as never
    }
    return c.json({ status: 'accepted' as const, event_id: result.eventId }, 202)
  })
  return app
}
