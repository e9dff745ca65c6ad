import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi'
import type { z } from 'zod'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { logOut, revokeUserSessions } from '../../auth/end-sessions.ts'
import { openSession } from '../../auth/open-session.ts'
import { refreshSession } from '../../auth/refresh-session.ts'
import type { SessionClaims, TokenService } from '../../auth/tokens.ts'
import { isOriginAllowedForTenant } from '../../db/sessions.ts'
import { crossOriginOf, requireRole } from '../../http/require-role.ts'
import { recordRejectedAttempt, type RejectedAttempt } from '../../audit/record-rejected-attempt.ts'
import { attemptLogin, type LoginDeps, type LoginResult } from '../../auth/attempt-login.ts'
import { HashQueueFullError } from '../../auth/bounded-hasher.ts'
import { registerUser } from '../../auth/register-user.ts'
import type { Channel } from '../../core/event-types.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import { UNATTRIBUTED_TENANT_ID } from '../../core/tenancy.ts'
import { findTenantBySlug, type Tenant } from '../../db/tenants.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppContext, AppEnv } from '../../http/app-env.ts'
import type { OriginReader } from '../../http/client-origin.ts'
import { payloadTooLarge } from '../../http/limit-body.ts'
import { headerRefusal } from '../../http/limit-headers.ts'
import { problemResponse, toApiError } from '../../http/problem-response.ts'
import { readBoundedText, readJsonRequest } from '../../http/read-json-request.ts'
import type { ServiceMetrics } from '../../metrics/service-metrics.ts'
import { createRouter } from '../create-router.ts'
import { IdempotencyKeyHeader } from '../schemas.ts'
import { MobileLoginBody, mobileLoginRoute, RegisterBody, registerRoute, WebLoginBody, webLoginRoute } from './login.routes.ts'
import { currentSessionRoute, jwksRoute, logoutRoute, refreshRoute, revokeSessionsRoute } from './session.routes.ts'

export interface AuthRouteDeps extends LoginDeps {
  origin: OriginReader
  /** Secure `__Host-` cookies everywhere but plain-HTTP development. */
  secureCookies: boolean
  /** Absolute lifetime of a session (REFRESH_TTL_SECONDS). */
  refreshTtlSeconds: number
  /** Whether X-Forwarded-Host/Proto tell the service's own origin (TRUST_PROXY). */
  trustProxy: boolean
  log: (entry: Record<string, unknown>) => void
  metrics?: Pick<ServiceMetrics, 'recordLockout' | 'recordThrottle'>
  /** Finds a tenant by slug (the app passes its in-process cache); reads the database each time without it. */
  findTenant?: (slug: string) => Promise<Tenant | null>
}

function tenantOf(deps: AuthRouteDeps, slug: string): Promise<Tenant | null> {
  return deps.findTenant ? deps.findTenant(slug) : findTenantBySlug(deps.sql, slug)
}

/**
 * The session cookies of a same-site web app: the access token and the refresh token, HttpOnly and
 * SameSite=Strict, `__Host-` prefixed (Secure, Path=/, no Domain) wherever cookies are secure.
 */
export function sessionCookieNames(secure: boolean): { access: string; refresh: string } {
  const prefix = secure ? '__Host-' : ''
  return { access: `${prefix}authtrail_session`, refresh: `${prefix}authtrail_refresh` }
}

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
  // NUL cannot be stored: a refused value is audited with U+FFFD in its place.
  const str = (v: unknown, max: number) => (typeof v === 'string' && v.length > 0 ? v.slice(0, max).replaceAll('\u0000', '\ufffd') : null)
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
      const tenant = fields.tenant && TENANT_SLUG.test(fields.tenant) ? await tenantOf(deps, fields.tenant) : null
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
          reason: error.code === 'unknown_tenant' ? 'unknown_tenant' : error.code === 'service_unavailable' ? 'overloaded' : 'invalid_request',
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
    const refusal = headerRefusal(c)
    if (refusal) return refuseAttempt(c, kind, refusal, lenientFields(null))
    const request = await readJsonRequest(c, { headers: IdempotencyKeyHeader, body: schema })
    if (!request.ok) return refuseAttempt(c, kind, request.error, lenientFields(request.raw))
    const tenant = await tenantOf(deps, request.body.tenant)
    if (!tenant || tenant.id === UNATTRIBUTED_TENANT_ID) {
      const error = ApiError.from('unknown_tenant', 'no such tenant', [{ field: 'tenant', detail: 'unknown tenant' }])
      return refuseAttempt(c, kind, error, lenientFields(request.raw))
    }
    const crossOrigin = crossOriginOf(c, deps.trustProxy)
    if (crossOrigin !== null && !(await isOriginAllowedForTenant(deps.sql, tenant.id, crossOrigin))) {
      return refuseAttempt(c, kind, ApiError.from('origin_not_allowed', `${crossOrigin} is not an allowed origin of this tenant`), lenientFields(request.raw))
    }
    return accept({ body: request.body, tenant, idempotencyKey: request.headers['idempotency-key'] ?? null })
  }

  const cookies = sessionCookieNames(deps.secureCookies)

  /** The answer carrying a session: its tokens in the body and, for the web, in the session cookies too. */
  function sessionResponse(
    c: AppContext,
    setCookies: boolean,
    session: { accessToken: string; claims: SessionClaims; refreshToken: string; sessionExpiresAt: Date; csrfToken: string | null; eventId: string },
  ): Response {
    const now = Math.floor(deps.clock().getTime() / 1000)
    const expiresIn = Math.max(0, session.claims.exp - now)
    const refreshExpiresIn = Math.max(0, Math.floor(session.sessionExpiresAt.getTime() / 1000) - now)
    if (setCookies) {
      const options = { httpOnly: true, secure: deps.secureCookies, sameSite: 'Strict', path: '/', ...(deps.secureCookies ? { prefix: 'host' as const } : {}) } as const
      const unprefixed = (name: string) => name.replace(/^__Host-/, '')
      setCookie(c, unprefixed(cookies.access), session.accessToken, { ...options, maxAge: expiresIn })
      setCookie(c, unprefixed(cookies.refresh), session.refreshToken, { ...options, maxAge: refreshExpiresIn })
    }
    c.header('Cache-Control', 'no-store')
    return c.json(
      {
        token_type: 'Bearer' as const,
        access_token: session.accessToken,
        expires_in: expiresIn,
        refresh_token: session.refreshToken,
        refresh_expires_in: refreshExpiresIn,
        session_id: session.claims.sid,
        ...(session.csrfToken ? { csrf_token: session.csrfToken } : {}),
        event_id: session.eventId,
      },
      200,
    )
  }

  /** Translates a login result to HTTP. Unknown identifier and wrong password produce the same bytes. */
  async function loginResponse(c: AppContext, result: LoginResult, channel: Channel, deviceId: string | null): Promise<Response> {
    if (result.kind === 'invalid_credentials') return problemResponse(c, ApiError.from('invalid_credentials'), { event_id: result.eventId })
    if (result.kind === 'locked') {
      if (result.newLockout) deps.metrics?.recordLockout(channel)
      const error = new ApiError('account_locked', 'too many failed attempts; try again later', undefined, { 'Retry-After': String(result.retryAfterSeconds) })
      return problemResponse(c, error, { event_id: result.eventId })
    }
    if (result.kind === 'throttled') {
      if (result.newEpisode) deps.metrics?.recordThrottle(channel)
      const error = new ApiError('ip_throttled', 'too many failed attempts from this address; try again later', undefined, { 'Retry-After': String(result.retryAfterSeconds) })
      return problemResponse(c, error, { event_id: result.eventId })
    }
    const web = channel === 'web'
    // A new login's session was stored with its event; a replayed one gets a fresh refresh token here.
    const opened = result.opened ?? (await openSession(deps.sql, { claims: result.claims, channel: web ? 'web' : 'mobile', deviceId, now: deps.clock(), ttlSeconds: deps.refreshTtlSeconds }))
    return sessionResponse(c, web, {
      accessToken: result.token,
      claims: result.claims,
      refreshToken: opened.refreshToken,
      sessionExpiresAt: opened.expiresAt,
      csrfToken: opened.csrfToken,
      eventId: result.eventId,
    })
  }

  /** Serves an attempt route; any other method is refused (404) and, being an attempt on the route, recorded too. */
  function attemptRoute(route: RouteConfig, kind: AttemptKind, handle: (c: AppContext) => Promise<Response>): void {
    app.openAPIRegistry.registerPath(route)
    app.post(route.path, handle)
    app.all(route.path, async (c) => {
      const refusal = headerRefusal(c)
      if (refusal) return refuseAttempt(c, kind, refusal, lenientFields(null))
      const body = await readBoundedText(c.req.raw)
      const error = body === null ? payloadTooLarge() : ApiError.from('not_found', `no route for ${c.req.method} ${c.req.path}`)
      return refuseAttempt(c, kind, error, lenientFields(body?.text ?? null))
    })
  }

  type Credentials = { body: { identifier: string; password: string }; tenant: Tenant; idempotencyKey: string | null }
  /**
   * An attempt the service is too busy to check (the password-hashing queue is full) is refused at once
   * with 503 + Retry-After, and that refusal is audited: nothing of the attempt itself was written.
   */
  const unlessOverloaded = async (c: AppContext, kind: AttemptKind, fields: AttemptFields, attempt: () => Promise<Response>): Promise<Response> => {
    try {
      return await attempt()
    } catch (error) {
      if (!(error instanceof HashQueueFullError)) throw error
      const refusal = new ApiError('service_unavailable', 'too many attempts in progress; retry shortly', undefined, { 'Retry-After': String(error.retryAfterSeconds) })
      return refuseAttempt(c, kind, refusal, fields)
    }
  }

  const logIn = async (c: AppContext, channel: 'web' | 'mobile', attempt: Credentials, deviceId: string | null) =>
    unlessOverloaded(c, channel === 'web' ? web : mobile, { tenant: attempt.tenant.slug, identifier: normalizeIdentifier(attempt.body.identifier), deviceId }, () => logInChecked(c, channel, attempt, deviceId))
  const logInChecked = async (c: AppContext, channel: 'web' | 'mobile', attempt: Credentials, deviceId: string | null) => {
    const result = await attemptLogin(deps, {
      tenant: attempt.tenant,
      identifier: normalizeIdentifier(attempt.body.identifier),
      identifierAsTyped: attempt.body.identifier,
      password: attempt.body.password,
      origin: deps.origin(c, channel, deviceId),
      idempotencyKey: attempt.idempotencyKey,
    })
    return loginResponse(c, result, channel, deviceId)
  }
  const web: AttemptKind = { eventType: 'login_failed', channel: 'web' }
  const mobile: AttemptKind = { eventType: 'login_failed', channel: 'mobile' }
  attemptRoute(webLoginRoute, web, (c) => answerAttempt(c, web, WebLoginBody, (attempt) => logIn(c, 'web', attempt, null)))
  attemptRoute(mobileLoginRoute, mobile, (c) => answerAttempt(c, mobile, MobileLoginBody, (attempt) => logIn(c, 'mobile', attempt, attempt.body.device_id)))

  const registration: AttemptKind = { eventType: 'registration_failed', channel: 'web' }
  attemptRoute(registerRoute, registration, (c) =>
    answerAttempt(c, registration, RegisterBody, ({ body, tenant, idempotencyKey }) =>
      unlessOverloaded(c, registration, { tenant: tenant.slug, identifier: normalizeIdentifier(body.identifier), deviceId: null }, async () => {
      const result = await registerUser(deps, {
        tenant,
        invitation: body.invitation ?? null,
        identifier: normalizeIdentifier(body.identifier),
        password: body.password,
        origin: deps.origin(c, 'web'),
        idempotencyKey,
      })
      if (result.kind === 'weak_password') {
        return problemResponse(c, ApiError.from('weak_password', result.detail, [{ field: 'password', detail: result.detail }]), { event_id: result.eventId })
      }
      if (result.kind === 'unknown_organisation' || result.kind === 'registration_closed') {
        // No organisation to register into, or the tenant's registration mode refuses this kind of registration.
        return problemResponse(c, ApiError.from('registration_closed', 'this tenant does not accept this registration'), { event_id: result.eventId })
      }
      if (result.kind === 'invitation_invalid') {
        const error = ApiError.from('validation_failed', 'invalid invitation', [{ field: 'invitation', detail: 'unknown, used or expired for this identifier' }])
        return problemResponse(c, error, { event_id: result.eventId })
      }
      return c.json({ status: 'accepted' as const, event_id: result.eventId }, 202)
      }),
    ),
  )

  app.openapi(refreshRoute, async (c) => {
    const body = c.req.valid('json')
    const fromCookie = body.refresh_token === undefined
    const refreshToken = body.refresh_token ?? getCookie(c, cookies.refresh)
    if (!refreshToken) throw ApiError.from('invalid_refresh_token', 'no refresh token in the body or the refresh cookie')
    const { ip, userAgent } = deps.origin(c, 'web')
    const result = await refreshSession(deps, {
      refreshToken,
      deviceId: body.device_id ?? null,
      origin: { ip, userAgent },
      crossOrigin: crossOriginOf(c, deps.trustProxy),
      ...(fromCookie ? { csrfToken: c.req.valid('header')['x-csrf-token'] ?? null } : {}),
    })
    switch (result.kind) {
      case 'invalid':
        throw ApiError.from('invalid_refresh_token')
      case 'reuse_detected':
        // A problem naming its audit event, as a refused login's does.
        return problemResponse(c, ApiError.from('invalid_refresh_token', 'the refresh token was used already or from another device; the session is revoked'), { event_id: result.eventId }) as never
      case 'csrf_failed':
        throw ApiError.from('csrf_failed')
      case 'origin_not_allowed':
        throw ApiError.from('origin_not_allowed')
      case 'refreshed':
        // Cookies are renewed where they carried the refresh token; an app that sent it in the body keeps tokens itself.
        return sessionResponse(c, fromCookie, { ...result, csrfToken: null }) as never
    }
  })

  const anyRole = requireRole(deps.tokens, ['user', 'admin', 'auditor'])
  app.use(logoutRoute.path, anyRole)
  app.openapi(logoutRoute, async (c) => {
    const session = c.get('session')
    const body = c.req.header('content-length') === '0' || !c.req.header('content-type') ? { scope: 'session' as const } : c.req.valid('json')
    const channel = session.did ? 'mobile' : 'web'
    const result = await logOut(deps, { claims: session, scope: body.scope ?? 'session', origin: deps.origin(c, channel, session.did ?? null) })
    deleteCookie(c, cookies.access, { path: '/', secure: deps.secureCookies })
    deleteCookie(c, cookies.refresh, { path: '/', secure: deps.secureCookies })
    return c.json({ sessions_revoked: result.sessionsRevoked, event_id: result.eventId }, 200)
  })

  app.use(currentSessionRoute.path, anyRole)
  app.openapi(currentSessionRoute, async (c) => {
    const s = c.get('session')
    const [row] = await deps.sql<{ identifier: string; slug: string; channel: 'web' | 'mobile'; device_id: string | null; expires_at: Date }[]>`
      SELECT u.identifier, t.slug, s.channel, s.device_id, s.expires_at
      FROM auth_sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id JOIN tenants t ON t.id = s.tenant_id
      WHERE s.tenant_id = ${s.tid} AND s.id = ${s.sid}`
    if (!row) throw ApiError.from('unauthorized', 'the session does not exist')
    c.header('Cache-Control', 'no-store')
    return c.json(
      {
        user_id: s.sub,
        identifier: row.identifier,
        tenant_id: s.tid,
        tenant: row.slug,
        organisation_id: s.org,
        role: s.role,
        session_id: s.sid,
        channel: row.channel,
        device_id: row.device_id,
        expires_at: new Date(s.exp * 1000).toISOString(),
        session_expires_at: row.expires_at.toISOString(),
      },
      200,
    )
  })

  app.use(revokeSessionsRoute.path, requireRole(deps.tokens, ['admin']))
  app.openapi(revokeSessionsRoute, async (c) => {
    const result = await revokeUserSessions(deps, { actor: c.get('session'), userId: c.req.valid('json').user_id, origin: deps.origin(c, 'admin') })
    if (!result) throw ApiError.from('not_found', 'no such user in this tenant')
    return c.json({ sessions_revoked: result.sessionsRevoked, event_id: result.eventId }, 200)
  })
  return app
}

/** GET /.well-known/jwks.json: the public keys of the access tokens, for any service that checks them. Mounted at /. */
export function createJwksRoutes(tokens: TokenService): OpenAPIHono<AppEnv> {
  const app = createRouter()
  app.openapi(jwksRoute, (c) => {
    c.header('Cache-Control', 'public, max-age=300')
    return c.json(tokens.jwks(), 200)
  })
  return app
}
