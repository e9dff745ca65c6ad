import type { OpenAPIHono } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { AdminActor } from '../../admin/admin-actor.ts'
import { createOrganisationAudited, listOrganisations } from '../../admin/administer-organisations.ts'
import { changeUserRole, currentRoleOf, inviteUser, listUsers, setUserStatus, type ManagedUser, type UserChangeRequest, type UserChangeResult } from '../../admin/administer-users.ts'
import type { TokenService } from '../../auth/tokens.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import { scopeOfSession } from '../../core/tenancy.ts'
import type { Sql } from '../../db/client.ts'
import { findTenantById } from '../../db/tenants.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppContext, AppEnv } from '../../http/app-env.ts'
import type { OriginReader } from '../../http/client-origin.ts'
import { requireRole } from '../../http/require-role.ts'
import { snakeCased } from '../../http/snake-cased.ts'
import { createRouter } from '../create-router.ts'
import { createOrganisationRoute, disableUserRoute, enableUserRoute, inviteRoute, listOrganisationsRoute, listUsersRoute, setRoleRoute } from './users.routes.ts'

export interface UserAdministrationDeps {
  sql: Sql
  tokens: TokenService
  clock: () => Date
  origin: OriginReader
}

/**
 * The token's role is checked again against the database: an administrator demoted or disabled since
 * their token was issued is refused at once.
 */
export function requireCurrentAdmin(sql: Sql): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const session = c.get('session')
    if ((await currentRoleOf(sql, session.tid, session.sub)) !== 'admin') throw ApiError.from('forbidden', 'requires one of: admin')
    await next()
  }
}

const userBody = (user: ManagedUser) => snakeCased(user)

/**
 * A tenant administrator's management of their organisation's users (invite, role, disable, enable,
 * list) and of the tenant's organisations. Each change is recorded in the chain with the administrator
 * as actor, in the change's transaction. Mounted inside /v1/admin.
 */
export function createUserAdministrationRoutes(deps: UserAdministrationDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()
  for (const path of ['/organisations', '/users', '/users/*', '/invitations']) {
    app.use(path, requireRole(deps.tokens, ['admin']), requireCurrentAdmin(deps.sql))
  }

  const requestOf = async (c: AppContext): Promise<UserChangeRequest> => {
    const session = c.get('session')
    const tenant = await findTenantById(deps.sql, session.tid)
    if (!tenant) throw ApiError.from('not_found', 'no such tenant')
    const actor: AdminActor = { userId: session.sub, organisationId: session.org, origin: deps.origin(c, 'admin'), kind: 'admin' }
    return { tenant, scope: scopeOfSession(session), actor, actorRole: 'admin' }
  }

  const answerChange = (c: AppContext, result: UserChangeResult) => {
    if (result.kind === 'not_found') throw ApiError.from('not_found', 'no such user in your organisation')
    if (result.kind === 'refused') {
      throw ApiError.from('forbidden', result.refusal === 'self' ? 'you cannot change your own role or status' : 'you cannot give or change a role beyond your own')
    }
    return c.json({ user: userBody(result.user), event_id: result.kind === 'changed' ? result.eventId : null }, 200)
  }

  app.openapi(listOrganisationsRoute, async (c) => {
    const organisations = await listOrganisations(deps.sql, c.get('session').tid)
    return c.json({ organisations: organisations.map((o) => snakeCased(o)) }, 200)
  })

  app.openapi(createOrganisationRoute, async (c) => {
    const request = await requestOf(c)
    const result = await createOrganisationAudited(deps, { tenant: request.tenant, name: c.req.valid('json').name, actor: request.actor })
    if (result.kind === 'name_taken') throw ApiError.from('conflict', 'an organisation of this name exists')
    return c.json({ organisation: result.organisation, event_id: result.eventId }, 201)
  })

  app.openapi(listUsersRoute, async (c) => {
    const q = c.req.valid('query')
    const page = await listUsers(deps.sql, scopeOfSession(c.get('session')), { after: q.cursor ?? null, limit: q.limit })
    return c.json({ users: page.users.map(userBody), next_cursor: page.next }, 200)
  })

  app.openapi(inviteRoute, async (c) => {
    const body = c.req.valid('json')
    const identifier = normalizeIdentifier(body.identifier)
    const result = await inviteUser(deps, { ...(await requestOf(c)), identifier, role: body.role })
    if (result.kind === 'identifier_taken') throw ApiError.from('conflict', 'this identifier has an account already')
    if (result.kind === 'unknown_organisation') throw ApiError.from('not_found', 'your organisation no longer exists')
    if (result.kind === 'refused') throw ApiError.from('forbidden', 'you cannot give a role beyond your own')
    c.header('Cache-Control', 'no-store')
    return c.json(
      { invitation_id: result.invitationId, invitation: result.token, identifier, role: body.role, organisation_id: result.organisationId, expires_at: result.expiresAt, event_id: result.eventId },
      201,
    )
  })

  app.openapi(setRoleRoute, async (c) => {
    const result = await changeUserRole(deps, { ...(await requestOf(c)), target: { userId: c.req.valid('param').id }, role: c.req.valid('json').role })
    return answerChange(c, result)
  })
  app.openapi(disableUserRoute, async (c) => answerChange(c, await setUserStatus(deps, { ...(await requestOf(c)), target: { userId: c.req.valid('param').id }, status: 'disabled' })))
  app.openapi(enableUserRoute, async (c) => answerChange(c, await setUserStatus(deps, { ...(await requestOf(c)), target: { userId: c.req.valid('param').id }, status: 'active' })))
  return app
}
