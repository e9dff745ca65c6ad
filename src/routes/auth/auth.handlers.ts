import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi'
import type { z } from 'zod'
import { setCookie } from 'hono/cookie'
import { recordRejectedAttempt, type RejectedAttempt } from '../../audit/record-rejected-attempt.ts'
import { attemptLogin, type LoginDeps, type LoginResult } from '../../auth/attempt-login.ts'
import { registerUser } from '../../auth/register-user.ts'
import type { Channel } from '../../core/event-types.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import { UNATTRIBUTED_TENANT_ID } from '../../core/tenancy.ts'
import { findTenantBySlug, type Tenant } from '../../db/tenants.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppContext, AppEnv } from '../../http/app-env.ts'
import type { OriginReader } from '../../http/client-origin.ts'
import { payloadTooLarge } from '../../http/limit-body.ts'
import { problemResponse, toApiError } from '../../http/problem-response.ts'
import { readBoundedText, readJsonRequest } from '../../http/read-json-request.ts'
import type { ServiceMetrics } from '../../metrics/service-metrics.ts'
import { createRouter } from '../create-router.ts'
import { IdempotencyKeyHeader } from '../schemas.ts'
import { MobileLoginBody, mobileLoginRoute, RegisterBody, registerRoute, WebLoginBody, webLoginRoute } from './login.routes.ts'

export interface AuthRouteDeps extends LoginDeps {
  origin: OriginReader
  /** Secure cookies everywhere but plain-HTTP development. */
  secureCookies: boolean
  log: (entry: Record<string, unknown>) => void
  metrics?: Pick<ServiceMetrics, 'recordLockout'>
}

export const SESSION_COOKIE = 'authtrail_session'

/** What kind of attempt a route receives, as a refused one is recorded. */
interface AttemptKind {
  eventType: RejectedAttempt['eventType']
  channel: Channel
}

/** What an attempt's body is worth auditing when it was refused: a tenant, an identifier, a device, nothing else. */
interface AttemptFields {
  tenant: string | null
  identifier: string | null
  deviceId: string | null
}

const TENANT_SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/
const MAX_INVALID_FIELDS = 20

/** Reads the few fields worth auditing from a body that was refused, trusting none of it. */
function lenientFields(raw: string | null): AttemptFields {
  let body: unknown = null
  try {
    body = raw === null ? null : JSON.parse(raw)
  } catch {
    // Unreadable: nothing to attribute.
  }
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
  const str = (v: unknown, max: number) => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : null)
  const identifier = str(record.identifier, 254)
  return {
    tenant: str(record.tenant, 64),
    identifier: identifier === null ? null : normalizeIdentifier(identifier).slice(0, 254) || null,
    deviceId: str(record.device_id, 128),
  }
}

/**
 * The login and registration routes. Each handler reads and validates its request itself, and every way
 * out of it goes through answerAttempt: an attempt refused before any credential check (invalid or
 * malformed body, oversize body, wrong media type, unknown tenant, wrong method) is recorded by
 * refuseAttempt before it is answered; an accepted one is recorded by its use case. Mounted at /v1.
 */
export function createAuthRoutes(deps: AuthRouteDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()

  /** Records a refused attempt and answers with the problem; if it cannot be recorded, the answer is 503. */
  async function refuseAttempt(c: AppContext, kind: AttemptKind, error: ApiError, fields: AttemptFields): Promise<Response> {
    try {
      const tenant = fields.tenant && TENANT_SLUG.test(fields.tenant) ? await findTenantBySlug(deps.sql, fields.tenant) : null
      const metadata: RejectedAttempt['metadata'] = {
        problem_code: error.code,
        invalid_fields: (error.errors ?? []).map((e) => e.field).slice(0, MAX_INVALID_FIELDS),
      }
      if (!tenant && fields.tenant) metadata.attempted_tenant = fields.tenant
      await recordRejectedAttempt(
        deps.sql,
        {
          tenant,
          eventType: kind.eventType,
          origin: deps.origin(c, kind.channel, fields.deviceId),
          identifier: fields.identifier,
          reason: error.code === 'unknown_tenant' ? 'unknown_tenant' : 'invalid_request',
          metadata,
        },
        deps.clock(),
      )
      return problemResponse(c, error)
    } catch (failure) {
      // An attempt is never refused unrecorded.
      const { apiError, unexpected } = toApiError(failure)
      deps.log({ level: 'error', msg: 'could not audit a rejected attempt', request_id: c.get('requestId'), error: String((failure as Error)?.message ?? failure) })
      return problemResponse(c, unexpected ? ApiError.from('service_unavailable') : apiError)
    }
  }

  /**
   * Every way out of an authentication route: the request is read and validated, the tenant found, and
   * only then is `accept` given the attempt; anything refused on the way is recorded first.
   */
  async function answerAttempt<B extends { tenant: string }>(
    c: AppContext,
    kind: AttemptKind,
    schema: z.ZodType<B>,
    accept: (attempt: { body: B; tenant: Tenant; idempotencyKey: string | null }) => Promise<Response>,
  ): Promise<Response> {
    const request = await readJsonRequest(c, { headers: IdempotencyKeyHeader, body: schema })
    if (!request.ok) return refuseAttempt(c, kind, request.error, lenientFields(request.raw))
    const tenant = await findTenantBySlug(deps.sql, request.body.tenant)
    if (!tenant || tenant.id === UNATTRIBUTED_TENANT_ID) {
      const error = ApiError.from('unknown_tenant', 'no such tenant', [{ field: 'tenant', detail: 'unknown tenant' }])
      return refuseAttempt(c, kind, error, lenientFields(request.raw))
    }
    return accept({ body: request.body, tenant, idempotencyKey: request.headers['idempotency-key'] ?? null })
  }

  /** Translates a login result to HTTP. Unknown identifier and wrong password produce the same bytes. */
  function loginResponse(c: AppContext, result: LoginResult, channel: Channel): Response {
    if (result.kind === 'invalid_credentials') return problemResponse(c, ApiError.from('invalid_credentials'), { event_id: result.eventId })
    if (result.kind === 'locked') {
      if (result.newLockout) deps.metrics?.recordLockout(channel)
      const error = new ApiError('account_locked', 'too many failed attempts; try again later', undefined, { 'Retry-After': String(result.retryAfterSeconds) })
      return problemResponse(c, error, { event_id: result.eventId })
    }
    const expiresIn = result.claims.exp - Math.floor(deps.clock().getTime() / 1000)
    if (channel === 'web') {
      setCookie(c, SESSION_COOKIE, result.token, { httpOnly: true, secure: deps.secureCookies, sameSite: 'Strict', path: '/', maxAge: Math.max(0, expiresIn) })
    }
    c.header('Cache-Control', 'no-store')
    return c.json({ token_type: 'Bearer' as const, access_token: result.token, expires_in: expiresIn, event_id: result.eventId }, 200)
  }

  /** Serves an attempt route; any other method is refused (404) and, being an attempt on the route, recorded too. */
  function attemptRoute(route: RouteConfig, kind: AttemptKind, handle: (c: AppContext) => Promise<Response>): void {
    app.openAPIRegistry.registerPath(route)
    app.post(route.path, handle)
    app.all(route.path, async (c) => {
      const body = await readBoundedText(c.req.raw)
      const error = body === null ? payloadTooLarge() : ApiError.from('not_found', `no route for ${c.req.method} ${c.req.path}`)
      return refuseAttempt(c, kind, error, lenientFields(body?.text ?? null))
    })
  }

  type Credentials = { body: { identifier: string; password: string }; tenant: Tenant; idempotencyKey: string | null }
  const logIn = async (c: AppContext, channel: 'web' | 'mobile', attempt: Credentials, deviceId: string | null) => {
    const result = await attemptLogin(deps, {
      tenant: attempt.tenant,
      identifier: normalizeIdentifier(attempt.body.identifier),
      identifierAsTyped: attempt.body.identifier,
      password: attempt.body.password,
      origin: deps.origin(c, channel, deviceId),
      idempotencyKey: attempt.idempotencyKey,
    })
    return loginResponse(c, result, channel)
  }
  const web: AttemptKind = { eventType: 'login_failed', channel: 'web' }
  const mobile: AttemptKind = { eventType: 'login_failed', channel: 'mobile' }
  attemptRoute(webLoginRoute, web, (c) => answerAttempt(c, web, WebLoginBody, (attempt) => logIn(c, 'web', attempt, null)))
  attemptRoute(mobileLoginRoute, mobile, (c) => answerAttempt(c, mobile, MobileLoginBody, (attempt) => logIn(c, 'mobile', attempt, attempt.body.device_id)))

  const registration: AttemptKind = { eventType: 'registration_failed', channel: 'web' }
  attemptRoute(registerRoute, registration, (c) =>
    answerAttempt(c, registration, RegisterBody, async ({ body, tenant, idempotencyKey }) => {
      const result = await registerUser(deps, {
        tenant,
        organisationId: body.organisation_id ?? null,
        identifier: normalizeIdentifier(body.identifier),
        password: body.password,
        origin: deps.origin(c, 'web'),
        idempotencyKey,
      })
      if (result.kind === 'weak_password') {
        return problemResponse(c, ApiError.from('weak_password', result.detail, [{ field: 'password', detail: result.detail }]), { event_id: result.eventId })
      }
      if (result.kind === 'unknown_organisation') {
        const error = ApiError.from('validation_failed', 'unknown organisation', [{ field: 'organisation_id', detail: 'unknown organisation' }])
        return problemResponse(c, error, { event_id: result.eventId })
      }
      return c.json({ status: 'accepted' as const, event_id: result.eventId }, 202)
    }),
  )
  return app
}
