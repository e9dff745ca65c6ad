import { z } from '@hono/zod-openapi'
import { CompleteDefencePolicy, DefencePolicyChange } from '../../core/defence-policy.ts'
import { problem, routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'administration', bearer: true })

// Made here, after @hono/zod-openapi has extended zod, from the core's shapes: defined once, documented here.
export const DefencePolicySchema = z.strictObject(CompleteDefencePolicy.shape).openapi('DefencePolicy', {
  description: "A tenant's active defence: per-address failure budgets, the spraying budget, allow-listed networks and how a lockout binds (README, Active defence)",
})
export const DefencePolicyChangeBody = z.strictObject(DefencePolicyChange.shape).openapi('DefencePolicyChange', {
  description: 'The settings to change; those left out keep their values. The merged policy must hold together (spray_failure_budget <= ip_failure_budget)',
})
export const DefencePolicyChanged = z
  .object({ defence_policy: DefencePolicySchema, event_id: z.string().uuid().nullable().openapi({ description: 'The tenant_defence_policy_changed event; null when nothing changed' }) })
  .openapi('DefencePolicyChanged')

export const getDefencePolicyRoute = route('get', '/defence-policy', "Your tenant's defence policy", {
  operationId: 'getDefencePolicy',
  responses: {
    200: { description: 'The policy in force', content: { 'application/json': { schema: z.object({ defence_policy: DefencePolicySchema }) } } },
    401: problem('Missing or invalid token'),
    403: problem('Requires the admin or auditor role'),
  },
})

export const changeDefencePolicyRoute = route('patch', '/defence-policy', "Change your tenant's defence policy (records tenant_defence_policy_changed with the policy before and after)", {
  operationId: 'changeDefencePolicy',
  request: { body: { required: true, content: { 'application/json': { schema: DefencePolicyChangeBody } } } },
  responses: {
    200: { description: 'The policy as it now is, and its event', content: { 'application/json': { schema: DefencePolicyChanged } } },
    400: problem('Invalid policy (the problem names the field)'),
    401: problem('Missing or invalid token'),
    403: problem('Requires the admin role, held now'),
  },
})
