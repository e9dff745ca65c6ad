import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AdminActor } from '../../admin/admin-actor.ts'
import { exportAuditTrail } from '../../admin/export-audit-trail.ts'
import { EXPORT_MEDIA } from '../../admin/export-formats.ts'
import { purgeExpiredEvents } from '../../admin/purge-expired-events.ts'
import { unlockAccount } from '../../admin/unlock-account.ts'
import type { CefDevice } from '../../core/cef.ts'
import type { CheckpointSigner } from '../../core/checkpoint.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import type { Sql } from '../../db/client.ts'
import { isInsufficientPrivilege } from '../../db/sqlstate.ts'
import { findTenantById, type Tenant } from '../../db/tenants.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppContext, AppEnv } from '../../http/app-env.ts'
import type { OriginReader } from '../../http/client-origin.ts'
import { requireRole } from '../../http/require-role.ts'
import { snakeCased } from '../../http/snake-cased.ts'
import { scopeOfSession } from '../../core/tenancy.ts'
import { createRouter } from '../create-router.ts'
import { exportRoute, retentionPurgeRoute, unlockRoute } from './admin.routes.ts'
import { createDefencePolicyRoutes } from './defence-policy.handlers.ts'
import { createOutboxRoutes, type OutboxRouteDeps } from './outbox.handlers.ts'
import { createUserAdministrationRoutes } from './users.handlers.ts'

export interface AdminRouteDeps extends OutboxRouteDeps {
  /** Signs retention checkpoints; null stores them unsigned, still attested by the purge event. */
  signer: CheckpointSigner | null
  /** Device fields of exported CEF lines. */
  cefDevice?: CefDevice
  /** The retention role's connection; without it the purge runs on `sql`, which the runtime role may not. */
  retentionSql?: Sql
  /** Called after a tenant's settings changed, so that cached tenants are read again (see TenantCache). */
  onTenantChanged?: (tenantId: string) => void
}

/** The administrator behind a request, as its audit event records them. */
function actorOf(c: AppContext, deps: AdminRouteDeps): AdminActor {
  const session = c.get('session')
  return { userId: session.sub, organisationId: session.org, origin: deps.origin(c, 'admin') }
}

/** The caller's tenant; a token for a tenant that no longer exists finds nothing. */
async function callerTenant(c: AppContext, deps: AdminRouteDeps): Promise<Tenant> {
  const tenant = await findTenantById(deps.sql, c.get('session').tid)
  if (!tenant) throw ApiError.from('not_found', 'no such tenant')
  return tenant
}

/**
 * The administration API: unlock (admin), export (admin, auditor) and retention purge (admin), each
 * audited in the chain, and the outbox administration under /outbox. Mounted at /v1/admin.
 */
export function createAdminRoutes(deps: AdminRouteDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()
  app.use('/lockouts/*', requireRole(deps.tokens, ['admin']))
  app.use(exportRoute.path, requireRole(deps.tokens, ['admin', 'auditor']))
  app.use(retentionPurgeRoute.path, requireRole(deps.tokens, ['admin']))

  app.openapi(unlockRoute, async (c) => {
    const identifier = normalizeIdentifier(c.req.valid('param').identifier)
    const tenant = await callerTenant(c, deps)
    const result = await unlockAccount(deps, { tenant, scope: scopeOfSession(c.get('session')), identifier, actor: actorOf(c, deps) })
    if (result.kind === 'not_found') throw ApiError.from('not_found', 'no lockout state for this identifier')
    c.header('Cache-Control', 'no-store')
    if (result.kind === 'not_locked') return c.json({ status: 'not_locked' as const, identifier, event_id: null, previous: null }, 200)
    return c.json({ status: 'unlocked' as const, identifier, event_id: result.eventId, previous: snakeCased(result.previous) }, 200)
  })

  app.openapi(exportRoute, async (c) => {
    const q = c.req.valid('query')
    const from = q.from === undefined ? undefined : new Date(q.from)
    const to = q.to === undefined ? undefined : new Date(q.to)
    if (from && to && to.getTime() <= from.getTime()) {
      throw ApiError.from('validation_failed', 'invalid query: to', [{ field: 'to', detail: 'must be later than from' }])
    }
    const tenant = await callerTenant(c, deps)
    const result = await exportAuditTrail(
      { sql: deps.sql, clock: deps.clock, cefDevice: deps.cefDevice },
      { tenant, scope: scopeOfSession(c.get('session')), format: q.format, from, to, actor: actorOf(c, deps) },
    )
    if (result.kind === 'download_not_allowed') throw ApiError.from('download_not_allowed', 'the tenant plan does not include downloads')
    const media = EXPORT_MEDIA[q.format]
    return c.body(result.body, 200, {
      'Content-Type': media.contentType,
      'Content-Disposition': `attachment; filename="${result.fileName}"`,
      'Cache-Control': 'no-store',
      'X-Audit-Event-Id': result.eventId,
      'X-Content-Type-Options': 'nosniff',
    }) as never
  })

  app.openapi(retentionPurgeRoute, async (c) => {
    const tenant = await callerTenant(c, deps)
    try {
      const result = await purgeExpiredEvents(
        { sql: deps.retentionSql ?? deps.sql, clock: deps.clock, signer: deps.signer },
        { tenant, before: deps.clock(), actor: actorOf(c, deps) },
      )
      return c.json(result, 200)
    } catch (error) {
      // Only the retention role may purge: a service without its connection is not allowed to.
      if (isInsufficientPrivilege(error)) throw ApiError.from('forbidden', 'retention runs as the retention role: configure RETENTION_DATABASE_URL or run purge-retention')
      throw error
    }
  })
  app.route('/outbox', createOutboxRoutes(deps))
  app.route('/', createUserAdministrationRoutes(deps))
  app.route('/', createDefencePolicyRoutes(deps))
  return app
}
