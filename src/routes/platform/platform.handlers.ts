import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AdminActor } from '../../admin/admin-actor.ts'
import { changeDefencePolicyAudited, createTenantAudited, listTenants, updateTenantAudited } from '../../admin/administer-tenants.ts'
import { inviteUser } from '../../admin/administer-users.ts'
import { lockoutPolicyProblem } from '../../core/administration.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import type { Sql } from '../../db/client.ts'
import { DEFAULT_LOCKOUT_SETTINGS, findTenantById, newTenantFromSettings, tenantSettingsOf, type Tenant } from '../../db/tenants.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppContext, AppEnv } from '../../http/app-env.ts'
import type { OriginReader } from '../../http/client-origin.ts'
import { requireOperator } from '../../http/require-operator.ts'
import { UNATTRIBUTED_TENANT_ID } from '../../core/tenancy.ts'
import { createRouter } from '../create-router.ts'
import { answerDefencePolicyChange } from '../admin/defence-policy.handlers.ts'
import { createTenantRoute, listTenantsRoute, platformDefencePolicyRoute, platformInviteRoute, updateTenantRoute } from './platform.routes.ts'

export interface PlatformRouteDeps {
  sql: Sql
  clock: () => Date
  origin: OriginReader
  /** Called after a tenant's settings changed, so that cached tenants are read again (see TenantCache). */
  onTenantChanged?: (tenantId: string) => void
}

/** A tenant as the API shows it: its settings by their stored names. */
export function tenantBody(tenant: Tenant) {
  return { id: tenant.id, slug: tenant.slug, chain_shards: tenant.chainShards, ...tenantSettingsOf(tenant) }
}

function operatorActor(c: AppContext, deps: PlatformRouteDeps): AdminActor {
  return { userId: c.get('operator').id, organisationId: null, origin: deps.origin(c, 'admin'), kind: 'operator' }
}

async function tenantOf(deps: PlatformRouteDeps, id: string): Promise<Tenant> {
  const tenant = id === UNATTRIBUTED_TENANT_ID ? null : await findTenantById(deps.sql, id)
  if (!tenant) throw ApiError.from('not_found', 'no such tenant')
  return tenant
}

function invalidField(problem: { field: string; detail: string }): ApiError {
  return ApiError.from('validation_failed', `invalid body: ${problem.field}`, [{ field: problem.field, detail: problem.detail }])
}

/**
 * The platform operators' API: create, list and update tenants, and invite a tenant's first
 * administrators. Every change is recorded in the tenant's chain with the operator as actor. Mounted at
 * /v1/platform, behind an operator credential.
 */
export function createPlatformRoutes(deps: PlatformRouteDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()
  app.use('*', requireOperator(deps.sql))

  app.openapi(createTenantRoute, async (c) => {
    const body = c.req.valid('json')
    const problem = lockoutPolicyProblem({ ...DEFAULT_LOCKOUT_SETTINGS, ...body })
    if (problem) throw invalidField(problem)
    const result = await createTenantAudited(deps, { ...newTenantFromSettings(body), organisationName: body.organisation_name, actor: operatorActor(c, deps) })
    if (result.kind === 'slug_taken') throw ApiError.from('conflict', 'a tenant with this slug exists')
    return c.json({ tenant: tenantBody(result.tenant), organisation: result.organisation, event_id: result.eventId }, 201)
  })

  app.openapi(listTenantsRoute, async (c) => {
    const q = c.req.valid('query')
    const page = await listTenants(deps.sql, { after: q.cursor ?? null, limit: q.limit })
    return c.json({ tenants: page.tenants.map(tenantBody), next_cursor: page.next }, 200)
  })

  app.openapi(updateTenantRoute, async (c) => {
    const tenant = await tenantOf(deps, c.req.valid('param').id)
    const result = await updateTenantAudited(deps, { tenantId: tenant.id, update: c.req.valid('json'), actor: operatorActor(c, deps) })
    if (result.kind === 'not_found') throw ApiError.from('not_found', 'no such tenant')
    if (result.kind === 'invalid') throw invalidField(result)
    if (result.eventIds.length > 0) deps.onTenantChanged?.(tenant.id)
    return c.json({ tenant: tenantBody(result.tenant), event_ids: result.eventIds }, 200)
  })

  app.openapi(platformDefencePolicyRoute, async (c) => {
    const tenant = await tenantOf(deps, c.req.valid('param').id)
    const result = await changeDefencePolicyAudited(deps, { tenantId: tenant.id, change: c.req.valid('json'), actor: operatorActor(c, deps) })
    return answerDefencePolicyChange(c, result, deps.onTenantChanged) as never
  })

  app.openapi(platformInviteRoute, async (c) => {
    const tenant = await tenantOf(deps, c.req.valid('param').id)
    const body = c.req.valid('json')
    const identifier = normalizeIdentifier(body.identifier)
    const result = await inviteUser(deps, {
      tenant,
      scope: { tenantId: tenant.id, organisationId: null },
      actor: operatorActor(c, deps),
      identifier,
      role: body.role,
      organisationId: body.organisation_id,
    })
    if (result.kind === 'unknown_organisation') throw ApiError.from('not_found', 'no such organisation in this tenant')
    if (result.kind === 'identifier_taken') throw ApiError.from('conflict', 'this identifier has an account already')
    if (result.kind === 'refused') throw ApiError.from('forbidden', 'not allowed')
    return c.json(
      { invitation_id: result.invitationId, invitation: result.token, identifier, role: body.role, organisation_id: result.organisationId, expires_at: result.expiresAt, event_id: result.eventId },
      201,
    )
  })
  return app
}
