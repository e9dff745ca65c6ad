import { z } from '@hono/zod-openapi'
import { ROLES } from '../../core/tenancy.ts'
import { InvitationSchema, PageQuery } from '../platform/platform.routes.ts'
import { problem, routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'administration', bearer: true })

export const ManagedUserSchema = z
  .object({
    id: z.string().uuid(),
    organisation_id: z.string().uuid(),
    identifier: z.string(),
    role: z.enum(ROLES),
    status: z.enum(['active', 'disabled']),
    created_at: z.string(),
  })
  .openapi('ManagedUser')

const OrganisationSchema = z.object({ id: z.string().uuid(), name: z.string(), created_at: z.string() }).openapi('Organisation')
const userParam = z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) })
const common = {
  401: problem('Missing or invalid token'),
  403: problem('Requires the admin role, held now (a demoted or disabled administrator is refused at once)'),
}
const refusable = { ...common, 403: problem('Requires the admin role, held now; or refused: your own account, or a role beyond your own') }
const userChanged = {
  200: {
    description: 'The user as they now are; event_id is null when nothing changed',
    content: { 'application/json': { schema: z.object({ user: ManagedUserSchema, event_id: z.string().uuid().nullable() }).openapi('UserChanged') } },
  },
  400: problem('Invalid request'),
  ...refusable,
  404: problem('No such user in your organisation'),
}

export const listOrganisationsRoute = route('get', '/organisations', "List the tenant's organisations", {
  operationId: 'listOrganisations',
  responses: { 200: { description: 'The organisations', content: { 'application/json': { schema: z.object({ organisations: z.array(OrganisationSchema) }) } } }, ...common },
})

export const createOrganisationRoute = route('post', '/organisations', 'Create an organisation in your tenant (records organisation_created)', {
  operationId: 'createOrganisation',
  request: { body: { required: true, content: { 'application/json': { schema: z.object({ name: z.string().min(1).max(200) }).strict().openapi('CreateOrganisationRequest') } } } },
  responses: {
    201: { description: 'Created', content: { 'application/json': { schema: z.object({ organisation: OrganisationSchema.omit({ created_at: true }), event_id: z.string().uuid() }) } } },
    400: problem('Invalid request'),
    ...common,
    409: problem('An organisation of this name exists'),
  },
})

export const listUsersRoute = route('get', '/users', 'List the users of your organisation in creation order, a page at a time (keyset pagination)', {
  operationId: 'listUsers',
  request: { query: PageQuery },
  responses: {
    200: { description: 'One page', content: { 'application/json': { schema: z.object({ users: z.array(ManagedUserSchema), next_cursor: z.string().nullable() }).openapi('UserPage') } } },
    400: problem('Invalid parameters'),
    ...common,
  },
})

export const inviteRoute = route('post', '/invitations', 'Invite someone into your organisation with a role (records user_invited)', {
  operationId: 'inviteUser',
  request: {
    body: {
      required: true,
      content: { 'application/json': { schema: z.object({ identifier: z.string().min(1).max(254), role: z.enum(ROLES) }).strict().openapi('AdminInvitationRequest') } },
    },
  },
  responses: {
    201: { description: 'Invited; the secret is shown once', content: { 'application/json': { schema: InvitationSchema } } },
    400: problem('Invalid request'),
    ...common,
    409: problem('The identifier has an account already'),
  },
})

export const setRoleRoute = route('put', '/users/{id}/role', "Set a user's role (records user_role_changed with you as actor)", {
  operationId: 'setUserRole',
  request: { params: userParam, body: { required: true, content: { 'application/json': { schema: z.object({ role: z.enum(ROLES) }).strict().openapi('SetRoleRequest') } } } },
  responses: userChanged,
})

export const disableUserRoute = route('post', '/users/{id}/disable', 'Disable a user: their logins fail as for an unknown identifier (records user_disabled)', {
  operationId: 'disableUser',
  request: { params: userParam },
  responses: userChanged,
})

export const enableUserRoute = route('post', '/users/{id}/enable', 'Enable a disabled user (records user_enabled)', {
  operationId: 'enableUser',
  request: { params: userParam },
  responses: userChanged,
})
