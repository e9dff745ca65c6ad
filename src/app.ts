import { OpenAPIHono } from '@hono/zod-openapi'
import { requestId } from 'hono/request-id'
import { secureHeaders } from 'hono/secure-headers'
import type { CheckpointKeys } from './audit/checkpoint-keys.ts'
import type { PasswordHasher } from './auth/password-hasher.ts'
import { createSessionCheck } from './auth/check-session.ts'
import type { TokenService } from './auth/tokens.ts'
import type { CefDevice } from './core/cef.ts'
import type { Sql } from './db/client.ts'
import type { TenantCache } from './db/tenant-cache.ts'
import { ApiError } from './errors/codes.ts'
import type { AppEnv, ClientAddressResolver } from './http/app-env.ts'
import type { ProxyTrust } from './core/client-address.ts'
import { createOriginReader } from './http/client-origin.ts'
import { DEMO } from './db/seed-demo.ts'
import { allowTenantOrigins } from './http/allow-tenant-origins.ts'
import { boundRequestTime } from './http/bound-request-time.ts'
import { limitBody } from './http/limit-body.ts'
import { limitHeaders } from './http/limit-headers.ts'
import { refuseUnstorableQuery } from './http/refuse-unstorable-query.ts'
import { problemResponse, toApiError } from './http/problem-response.ts'
import type { ServiceMetrics } from './metrics/service-metrics.ts'
import { createAdminRoutes } from './routes/admin/admin.handlers.ts'
import { createAuditRoutes } from './routes/audit/verify.handlers.ts'
import { createAuthRoutes, createJwksRoutes, sessionCookieNames } from './routes/auth/auth.handlers.ts'
import { createInvestigationRoutes } from './routes/investigation/investigation.handlers.ts'
import { createMetricsRoutes, type MetricsAccess } from './routes/metrics/metrics.handlers.ts'
import { createConsoleRoutes } from './routes/console/console.handlers.ts'
import { createDocsRoutes, type DocsDeps } from './routes/docs/docs.handlers.ts'
import { createMonitoringRoutes } from './routes/monitoring/monitoring.handlers.ts'
import { createPlatformRoutes } from './routes/platform/platform.handlers.ts'
import type { DocumentStore } from './sinks/docstore/document-store.ts'
import type { EventSink } from './sinks/event-sink.ts'
import { SERVICE_VERSION } from './version.ts'

export interface AppDeps {
  sql: Sql
  hasher: PasswordHasher
  tokens: TokenService
  clock: () => Date
  /** argon2id hash of a random secret, verified for unknown identifiers so timing matches a real one. */
  dummyHash: string
  /** Reads the peer address; each runtime supplies its own. */
  resolveAddress: ClientAddressResolver
  config: {
    tokenTtlSeconds: number
    /** Absolute lifetime of a session (REFRESH_TTL_SECONDS); 30 days when not given. */
    refreshTtlSeconds?: number
    /** Which proxies are believed about the client's address (TRUSTED_PROXIES); `true` is one hop. */
    trustProxy: ProxyTrust | boolean
    /** Every request is answered within this many milliseconds (REQUEST_TIMEOUT_MS; 5000 when not given). */
    requestTimeoutMs?: number
    /**
     * GET /metrics on this app: `public` (the default), behind a bearer token, or `none` (served on a
     * listener of its own, or not at all: see the runtime's boot).
     */
    metricsAccess?: MetricsAccess
    secureCookies: boolean
  }
  log: (entry: Record<string, unknown>) => void
  /** The sinks the relay delivers to; the admin re-drive delivers through them. */
  sinks?: readonly EventSink[]
  /** The checkpoint signing key and the published keys (CHECKPOINT_SIGNING_KEY*); without, checkpoints are unsigned. */
  checkpointKeys?: CheckpointKeys
  /** The document store the relay feeds, if any: verification can compare with its copies of the checkpoints. */
  documentStore?: DocumentStore | null
  /** The retention role's connection (RETENTION_DATABASE_URL): the API's purge runs on it when given. */
  retentionSql?: Sql
  /** Tenants cached in the process for the authentication routes; read each time without it. */
  tenants?: TenantCache
  /** Prometheus metrics; GET /metrics is served only when given. */
  metrics?: ServiceMetrics
  /** Device fields of CEF lines (exports). */
  cefDevice?: CefDevice
  /** The API reference's renderer, where the runtime can read it: /docs is served only with it. */
  docs?: Omit<DocsDeps, 'trustProxy'>
  /** Aborted when the service begins to shut down: long-lived responses (event streams) end. */
  closing?: AbortSignal
}

/** The tags of the document, each with what its operations are for (generators and /docs group by them). */
const TAGS = [
  { name: 'authentication', description: 'Log in (web and mobile), register, refresh the session (the refresh token rotates), ask who you are, log out, revoke sessions. Every attempt is an audit event.' },
  { name: 'investigation', description: "Read the caller's tenant trail: search events, an identifier's lockout and what caused it, an incident report of a time window, volumes. Role auditor or admin." },
  { name: 'administration', description: 'Unlock accounts, export the trail (NDJSON, CSV, CEF), purge expired events, manage organisations, users and their roles. Role admin (export: auditor too). Each change is an audit event.' },
  { name: 'outbox', description: "The relay's replication to the document store and the SIEMs: lag, backlog, dead letters and their re-drive. Role admin." },
  { name: 'audit', description: 'Verify the hash chains against the signed checkpoints; the public keys of the checkpoints.' },
  { name: 'monitoring', description: "The live overview of the caller's tenant, as JSON or as Server-Sent Events. Role auditor or admin." },
  { name: 'platform', description: 'Tenants, their plans and settings (allowed origins among them), for the platform operator (`authtrail operator bootstrap`).' },
  { name: 'keys', description: 'The public keys that verify access tokens (JWKS), for any service that accepts them.' },
  { name: 'operations', description: 'Prometheus metrics of the service and its relay.' },
]

const INTRODUCTION = `Login service with a complete, tamper-evident, queryable authentication audit trail.

Every login attempt, registration, refresh and logout is recorded with its lockout state and its outbox row in one
PostgreSQL transaction, linked into a hash chain, and replicated to a document store and to SIEMs (CEF over syslog).

## Try it against the demo tenant

\`npm start\` without \`DATABASE_URL\` seeds the tenant \`${DEMO.tenant}\` with \`${DEMO.user.identifier}\` (password
\`${DEMO.user.password}\`) and the administrator \`${DEMO.admin.identifier}\` (password \`${DEMO.admin.password}\`).
The examples of this reference use them: send **logIn** as it is, then put the \`access_token\` of its answer in
the bearer authentication and call any operation (the investigation and administration ones need the administrator).

## Sessions

An access token (EdDSA, keys at \`/.well-known/jwks.json\`) lives \`expires_in\` seconds; the session it belongs to is
checked on every request, so a logout, a revocation or a role change takes effect at once. \`refreshSession\` spends
the refresh token and returns the next one; presenting a spent one revokes the whole session. Web apps on another
origin must be listed in the tenant's \`allowed_origins\` (CORS, exact match). The \`@authtrail/sdk\` package does all
of this for web and React Native apps.

## Errors

Every error is \`application/problem+json\` (RFC 9457) with a stable \`code\` to branch on and, for invalid input, the
fields in \`errors\`. 423, 429 and 503 carry \`Retry-After\`.`

export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'authtrail',
    version: SERVICE_VERSION,
    description: INTRODUCTION,
  },
  servers: [{ url: '', description: 'The service that serves this document' }],
  tags: TAGS,
}

/**
 * Builds the Hono application from its dependencies: everything it serves is mounted here, one router per
 * area, each given only what it uses. Knows nothing about the runtime: Node, Bun and Deno entrypoints
 * each supply the SQL client, the address resolver and the key material.
 *
 * @example
 * const app = createApp({ sql, hasher, tokens, clock: () => new Date(), dummyHash, resolveAddress, config, log, sinks, metrics })
 * const res = await app.request('/healthz')
 */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const { sql, tokens, clock, log } = deps
  const origin = createOriginReader(deps.resolveAddress, deps.config.trustProxy)
  const keys = deps.checkpointKeys ?? null
  const app = new OpenAPIHono<AppEnv>()

  app.use('*', requestId())
  app.use('*', boundRequestTime(deps.config.requestTimeoutMs ?? 5000))
  app.use('*', secureHeaders())
  if (deps.metrics) app.use('*', deps.metrics.middleware)
  app.use('*', allowTenantOrigins(sql))
  // Behind any trusted proxy, its forwarded host and scheme are believed too.
  const behindProxy = typeof deps.config.trustProxy === 'boolean' ? deps.config.trustProxy : deps.config.trustProxy.kind !== 'none'
  const guard = { check: createSessionCheck(sql, clock), cookieName: sessionCookieNames(deps.config.secureCookies).access, trustProxy: behindProxy }
  app.use('*', async (c, next) => {
    c.set('sessionGuard', guard)
    await next()
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  app.openAPIRegistry.registerComponent('securitySchemes', 'operatorToken', { type: 'http', scheme: 'bearer', description: 'A platform operator credential (`authtrail operator bootstrap`)' })

  // Authentication first: it reads and limits its bodies itself, so that every refused attempt (an
  // oversize one too) is audited. Every area mounted after it gets the plain body limit here.
  app.route(
    '/v1',
    createAuthRoutes({
      sql,
      hasher: deps.hasher,
      tokens,
      clock,
      dummyHash: deps.dummyHash,
      tokenTtlSeconds: deps.config.tokenTtlSeconds,
      refreshTtlSeconds: deps.config.refreshTtlSeconds ?? 2_592_000,
      trustProxy: behindProxy,
      secureCookies: deps.config.secureCookies,
      origin,
      log,
      metrics: deps.metrics,
      findTenant: deps.tenants?.bySlug,
    }),
  )
  app.use('*', limitHeaders())
  app.use('/v1/*', limitBody())
  app.use('/v1/*', refuseUnstorableQuery())
  app.route('/v1/audit', createAuditRoutes({
      sql,
      tokens,
      checkpointVerifier: keys?.verifier ?? null,
      publishedKeys: keys?.published ?? [],
      documentStore: deps.documentStore ?? null,
      clock,
    }))
  app.route('/v1/investigation', createInvestigationRoutes({ sql, tokens, clock }))
  app.route('/v1/admin', createAdminRoutes({ sql, retentionSql: deps.retentionSql, tokens, clock, origin, sinks: deps.sinks ?? [], signer: keys?.signer ?? null, cefDevice: deps.cefDevice, onTenantChanged: deps.tenants?.invalidate }))
  app.route('/v1/platform', createPlatformRoutes({ sql, clock, origin, onTenantChanged: deps.tenants?.invalidate }))
  app.route('/v1/monitoring', createMonitoringRoutes({ sql, tokens, clock, sinks: deps.sinks ?? [], log, closing: deps.closing }))
  const metricsAccess = deps.config.metricsAccess ?? { kind: 'public' }
  if (deps.metrics && metricsAccess.kind !== 'none') app.route('/', createMetricsRoutes(deps.metrics, metricsAccess))
  app.route('/console', createConsoleRoutes())
  app.route('/', createJwksRoutes(tokens))

  app.get('/healthz', async (c) => {
    await sql`SELECT 1`
    return c.json({ status: 'ok' })
  })
  app.doc31('/openapi.json', OPENAPI_INFO)
  if (deps.docs) app.route('/docs', createDocsRoutes({ ...deps.docs, trustProxy: behindProxy }))

  app.notFound((c) => problemResponse(c, ApiError.from('not_found', `no route for ${c.req.method} ${c.req.path}`)))
  app.onError((error, c) => {
    const { apiError, unexpected } = toApiError(error)
    if (unexpected || apiError.status >= 500) {
      // The cause is logged with the request id and never sent to the client.
      log({
        level: 'error',
        msg: 'request failed',
        request_id: c.get('requestId'),
        path: c.req.path,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        // An unexpected error is a defect: where it was thrown, for whoever fixes it (never sent to the client).
        ...(unexpected && error instanceof Error && { code: (error as { code?: unknown }).code, stack: error.stack?.split('\n').slice(1, 9).map((line) => line.trim()) }),
      })
    }
    return problemResponse(c, apiError)
  })
  return app
}
