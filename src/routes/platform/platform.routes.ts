import { z } from '@hono/zod-openapi'
import { REGISTRATION_MODES } from '../../core/administration.ts'
import { ROLES } from '../../core/tenancy.ts'
import { DefencePolicyChangeBody, DefencePolicyChanged } from '../admin/defence-policy.routes.ts'
import { problem, routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'platform', bearer: true, scheme: 'operatorToken' })

const origin = z
  .string()
  .max(200)
  .regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/, 'must be an origin: scheme, host and optional port, lower case, nothing after')
  .openapi({ example: 'https://app.example.com' })

/** Every setting of a tenant an operator may set, by its stored name. */
export const tenantSettingsFields = {
  name: z.string().min(1).max(200).openapi({ example: 'Acme Corporation' }),
  registration_mode: z.enum(REGISTRATION_MODES).openapi({ description: '`open`: anyone may register; `invite`: only with an invitation; `closed`: no registration' }),
  allowed_origins: z.array(origin).max(50),
  retention_days: z.number().int().min(1).max(3650),
  can_download: z.boolean(),
  lockout_max_failures: z.number().int().min(1).max(1000),
  lockout_window_seconds: z.number().int().min(1).max(86_400 * 30),
  lockout_base_seconds: z.number().int().min(1).max(86_400 * 30),
  lockout_multiplier: z.number().int().min(1).max(10),
  lockout_max_seconds: z.number().int().min(1).max(86_400 * 365),
}

export const CreateTenantBody = z
  .object(tenantSettingsFields)
  .partial()
  .extend({
    slug: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit').openapi({ example: 'acme' }),
    organisation_name: z.string().min(1).max(200).optional().openapi({ description: 'The first organisation; default `default`' }),
    chain_shards: z.number().int().min(1).max(256).optional().openapi({ description: 'Fixed at creation; default 16' }),
  })
  .strict()
  .openapi('CreateTenantRequest')

export const UpdateTenantBody = z.object(tenantSettingsFields).partial().strict().openapi('UpdateTenantRequest')

export const TenantSchema = z
  .object({ id: z.string().uuid(), slug: z.string(), chain_shards: z.number().int(), ...tenantSettingsFields, created_at: z.string().optional() })
  .openapi('Tenant')

const tenantParam = z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) })
const unauthorized = problem('Missing or unknown operator credential')

export const createTenantRoute = route('post', '/tenants', 'Create a tenant with its first organisation (records tenant_created)', {
  operationId: 'createTenant',
  request: { body: { required: true, content: { 'application/json': { schema: CreateTenantBody } } } },
  responses: {
    201: {
      description: 'Created',
      content: {
        'application/json': {
          schema: z.object({ tenant: TenantSchema, organisation: z.object({ id: z.string().uuid(), name: z.string() }), event_id: z.string().uuid() }).openapi('TenantCreated'),
        },
      },
    },
    400: problem('Invalid settings (the problem names the fields)'),
    401: unauthorized,
    409: problem('A tenant with this slug exists'),
  },
})

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().uuid().optional().openapi({ description: 'The next_cursor of the previous page' }),
})

export const listTenantsRoute = route('get', '/tenants', 'List tenants in creation order, a page at a time', {
  operationId: 'listTenants',
  request: { query: PageQuery },
  responses: {
    200: { description: 'One page', content: { 'application/json': { schema: z.object({ tenants: z.array(TenantSchema), next_cursor: z.string().nullable() }).openapi('TenantPage') } } },
    400: problem('Invalid parameters'),
    401: unauthorized,
  },
})

export const updateTenantRoute = route('patch', '/tenants/{id}', "Change a tenant's plan or settings (records tenant_plan_changed and/or tenant_settings_changed)", {
  operationId: 'updateTenant',
  request: { params: tenantParam, body: { required: true, content: { 'application/json': { schema: UpdateTenantBody } } } },
  responses: {
    200: {
      description: 'The tenant as it now is, and the events recorded (none when nothing changed)',
      content: { 'application/json': { schema: z.object({ tenant: TenantSchema, event_ids: z.array(z.string().uuid()) }).openapi('TenantUpdated') } },
    },
    400: problem('Invalid settings'),
    401: unauthorized,
    404: problem('No such tenant'),
  },
})

export const InvitationBody = z
  .object({
    identifier: z.string().min(1).max(254).openapi({ example: 'admin@acme.example' }),
    role: z.enum(ROLES),
    organisation_id: z.string().uuid().optional().openapi({ description: "Default: the tenant's first organisation" }),
  })
  .strict()
  .openapi('InvitationRequest')

export const InvitationSchema = z
  .object({
    invitation_id: z.string().uuid(),
    invitation: z.string().openapi({ description: 'The secret, shown once: the invitee registers with it' }),
    identifier: z.string(),
    role: z.enum(ROLES),
    organisation_id: z.string().uuid(),
    expires_at: z.string(),
    event_id: z.string().uuid(),
  })
  .openapi('Invitation')

export const platformInviteRoute = route('post', '/tenants/{id}/invitations', "Invite someone into a tenant's organisation with a role (records user_invited)", {
  operationId: 'inviteToTenant',
  request: { params: tenantParam, body: { required: true, content: { 'application/json': { schema: InvitationBody } } } },
  responses: {
    201: { description: 'Invited', content: { 'application/json': { schema: InvitationSchema } } },
    400: problem('Invalid request'),
    401: unauthorized,
    404: problem('No such tenant or organisation'),
    409: problem('The identifier has an account already'),
  },
})

export const platformDefencePolicyRoute = route('patch', '/tenants/{id}/defence-policy', "Change a tenant's defence policy (records tenant_defence_policy_changed with the policy before and after)", {
  operationId: 'changeTenantDefencePolicy',
  request: { params: tenantParam, body: { required: true, content: { 'application/json': { schema: DefencePolicyChangeBody } } } },
  responses: {
    200: { description: 'The policy as it now is, and its event', content: { 'application/json': { schema: DefencePolicyChanged } } },
    400: problem('Invalid policy (the problem names the field)'),
    401: unauthorized,
    404: problem('No such tenant'),
  },
})
