import type { OpenAPIHono } from '@hono/zod-openapi'
import { changeDefencePolicyAudited, type ChangeDefencePolicyResult } from '../../admin/administer-tenants.ts'
import type { TokenService } from '../../auth/tokens.ts'
import type { Sql } from '../../db/client.ts'
import { findTenantById } from '../../db/tenants.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppContext, AppEnv } from '../../http/app-env.ts'
import type { OriginReader } from '../../http/client-origin.ts'
import { requireRole } from '../../http/require-role.ts'
import { createRouter } from '../create-router.ts'
import { changeDefencePolicyRoute, getDefencePolicyRoute } from './defence-policy.routes.ts'
import { requireCurrentAdmin } from './users.handlers.ts'

export interface DefencePolicyRouteDeps {
  sql: Sql
  tokens: TokenService
  clock: () => Date
  origin: OriginReader
  /** Called after a tenant's policy changed, so that cached tenants are read again (see TenantCache). */
  onTenantChanged?: (tenantId: string) => void
}

/**
 * The answer to a defence policy change, for the tenant administrators' route and the operators' alike:
 * the policy as it now is and its event, or the problem naming the field.
 */
export function answerDefencePolicyChange(c: AppContext, result: ChangeDefencePolicyResult, onTenantChanged?: (tenantId: string) => void) {
  if (result.kind === 'not_found') throw ApiError.from('not_found', 'no such tenant')
  if (result.kind === 'invalid') throw ApiError.from('validation_failed', `invalid body: ${result.field}`, [{ field: result.field, detail: result.detail }])
  if (result.eventId !== null) onTenantChanged?.(result.tenant.id)
  c.header('Cache-Control', 'no-store')
  return c.json({ defence_policy: result.tenant.defenceSettings, event_id: result.eventId }, 200)
}

/**
 * GET (admin, auditor) and PATCH (admin, held now) /defence-policy: the caller's tenant's active defence.
 * A change is recorded as tenant_defence_policy_changed with the administrator as actor. Mounted inside /v1/admin.
 */
export function createDefencePolicyRoutes(deps: DefencePolicyRouteDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()
  app.on('GET', getDefencePolicyRoute.path, requireRole(deps.tokens, ['admin', 'auditor']))
  app.on('PATCH', changeDefencePolicyRoute.path, requireRole(deps.tokens, ['admin']), requireCurrentAdmin(deps.sql))

  app.openapi(getDefencePolicyRoute, async (c) => {
    const tenant = await findTenantById(deps.sql, c.get('session').tid)
    if (!tenant) throw ApiError.from('not_found', 'no such tenant')
    c.header('Cache-Control', 'no-store')
    return c.json({ defence_policy: tenant.defenceSettings }, 200)
  })

  app.openapi(changeDefencePolicyRoute, async (c) => {
    const session = c.get('session')
    const result = await changeDefencePolicyAudited(deps, {
      tenantId: session.tid,
      change: c.req.valid('json'),
      actor: { userId: session.sub, organisationId: session.org, origin: deps.origin(c, 'admin'), kind: 'admin' },
    })
    return answerDefencePolicyChange(c, result, deps.onTenantChanged) as never
  })
  return app
}
