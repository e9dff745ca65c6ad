import { recordEvents } from '../audit/record-events.ts'
import type { Sql } from '../db/client.ts'
import { isUniqueViolation } from '../db/sqlstate.ts'
import { createOrganisation, type Tenant } from '../db/tenants.ts'
import { actorKindOf, type AdminActor } from './admin-actor.ts'
import type { AdministrationDeps } from './administer-tenants.ts'

export interface Organisation {
  id: string
  name: string
  createdAt: string
}

/** Creates an organisation in a tenant and records `organisation_created` in the same transaction. */
export async function createOrganisationAudited(
  deps: AdministrationDeps,
  request: { tenant: Tenant; name: string; actor: AdminActor },
): Promise<{ kind: 'created'; organisation: { id: string; name: string }; eventId: string } | { kind: 'name_taken' }> {
  const { tenant, name, actor } = request
  try {
    return await deps.sql.begin(async (tx) => {
      const organisation = await createOrganisation(tx, tenant.id, name)
      const [event] = await recordEvents(
        tx,
        tenant,
        [{ eventType: 'organisation_created', outcome: 'success', origin: actor.origin, organisationId: organisation.id, actorId: actor.userId, metadata: { actor_kind: actorKindOf(actor), name } }],
        { now: deps.clock() },
      )
      return { kind: 'created', organisation, eventId: event!.id } as const
    })
  } catch (error) {
    if (isUniqueViolation(error, ['organisations_tenant_name_key'])) return { kind: 'name_taken' }
    throw error
  }
}

/** A tenant's organisations, by name. */
export async function listOrganisations(sql: Sql, tenantId: string): Promise<Organisation[]> {
  const rows = await sql<{ id: string; name: string; created_at: Date }[]>`
    SELECT id, name, created_at FROM organisations WHERE tenant_id = ${tenantId} ORDER BY name, id`
  return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at.toISOString() }))
}
