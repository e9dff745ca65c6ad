import { recordEvents, type EventDraft } from '../audit/record-events.ts'
import { diffTenantSettings, lockoutPolicyProblem, type TenantSettings } from '../core/administration.ts'
import { DefencePolicyChange, DefencePolicySettings } from '../core/defence-policy.ts'
import type { Sql } from '../db/client.ts'
import { isUniqueViolation, retryWhileChangedMeanwhile } from '../db/sqlstate.ts'
import { createOrganisation, createTenant, tenantFromRow, tenantSettingsOf, type NewTenant, type Tenant, type TenantRow } from '../db/tenants.ts'
import { actorKindOf, type AdminActor } from './admin-actor.ts'

export interface AdministrationDeps {
  sql: Sql
  clock: () => Date
}

export interface CreateTenantRequest extends NewTenant {
  /** The tenant's first organisation, which invitations and open registration use by default. */
  organisationName?: string
  actor: AdminActor
}

export type CreateTenantResult =
  | { kind: 'created'; tenant: Tenant; organisation: { id: string; name: string }; eventId: string }
  | { kind: 'slug_taken' }

/**
 * Creates a tenant and its first organisation and records `tenant_created` (every setting, the actor)
 * in the new tenant's chain, in one transaction: a tenant never exists without its event.
 *
 * @example
 * const result = await createTenantAudited({ sql, clock }, { slug: 'acme', name: 'Acme', actor: SYSTEM_ACTOR })
 */
export async function createTenantAudited(deps: AdministrationDeps, request: CreateTenantRequest): Promise<CreateTenantResult> {
  const { actor, organisationName = 'default', ...input } = request
  try {
    return await deps.sql.begin(async (tx) => {
      const now = deps.clock()
      const tenant = await createTenant(tx, input)
      const organisation = await createOrganisation(tx, tenant.id, organisationName)
      const [event] = await recordEvents(
        tx,
        tenant,
        [
          {
            eventType: 'tenant_created',
            outcome: 'success',
            origin: actor.origin,
            organisationId: organisation.id,
            actorId: actor.userId,
            metadata: { actor_kind: actorKindOf(actor), slug: tenant.slug, chain_shards: tenant.chainShards, organisation_name: organisation.name, ...tenantSettingsOf(tenant) },
          },
        ],
        { now },
      )
      return { kind: 'created', tenant, organisation, eventId: event!.id } as const
    })
  } catch (error) {
    if (isUniqueViolation(error, ['tenants_slug_key'])) return { kind: 'slug_taken' }
    throw error
  }
}

export type UpdateTenantResult =
  | { kind: 'not_found' }
  /** The settings the update would leave cannot go together (the lockout ceiling below its base). */
  | { kind: 'invalid'; field: string; detail: string }
  | { kind: 'updated'; tenant: Tenant; eventIds: string[] }

/**
 * Changes a tenant's settings. Compares them with what is stored and, for what differs, records `tenant_plan_changed` (retention, downloads, lockout policy)
 * and `tenant_settings_changed` (name, registration mode, origins), each with from/to and the actor, in
 * the same transaction; the database applies the change from those events. Nothing differing, nothing written. Events already recorded keep the expiry
 * they were given: a shorter retention applies to new events.
 */
export async function updateTenantAudited(
  deps: AdministrationDeps,
  request: { tenantId: string; update: Partial<TenantSettings>; actor: AdminActor },
): Promise<UpdateTenantResult> {
  const { actor } = request
  return retryWhileChangedMeanwhile(() => deps.sql.begin(async (tx) => {
    const [row] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE id = ${request.tenantId}`
    if (!row) return { kind: 'not_found' } as const
    const current = tenantFromRow(row)
    const problem = lockoutPolicyProblem({ ...tenantSettingsOf(current), ...request.update })
    if (problem) return { kind: 'invalid', ...problem } as const
    const { plan, settings } = diffTenantSettings(tenantSettingsOf(current), request.update)
    const changed = { ...plan, ...settings }
    if (Object.keys(changed).length === 0) return { kind: 'updated', tenant: current, eventIds: [] } as const

    const about = { outcome: 'success', origin: actor.origin, organisationId: null, actorId: actor.userId } as const
    const drafts: EventDraft[] = []
    const actor_kind = actorKindOf(actor)
    if (Object.keys(plan).length > 0) drafts.push({ ...about, eventType: 'tenant_plan_changed', metadata: { actor_kind, changes: plan } })
    if (Object.keys(settings).length > 0) drafts.push({ ...about, eventType: 'tenant_settings_changed', metadata: { actor_kind, changes: settings } })
    // The database makes the change from the events (apply_admin_events), refusing it if the row moved
    // since it was read (then all is tried again). The events take the retention the tenant had.
    const events = await recordEvents(tx, current, drafts, { now: deps.clock(), applyChanges: true })
    const [updated] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE id = ${current.id}`
    return { kind: 'updated', tenant: tenantFromRow(updated!), eventIds: events.map((e) => e.id) } as const
  }))
}

export type ChangeDefencePolicyResult =
  | { kind: 'not_found' }
  /** The merged policy does not hold together (the spraying budget above the address budget). */
  | { kind: 'invalid'; field: string; detail: string }
  /** `eventId` null: the change left every setting as it was, and nothing was written. */
  | { kind: 'changed'; tenant: Tenant; eventId: string | null }

/**
 * Changes a tenant's defence policy: the settings named in `change` take their new values, the others
 * keep theirs, and the merged policy is validated whole. Records `tenant_defence_policy_changed` with
 * the actor and the policy before (as it was stored) and after (complete), in the same transaction; the
 * database applies the change from that event (apply_admin_events), refusing it if the stored policy
 * moved since it was read (then all is tried again). Nothing differing, nothing written.
 *
 * @example
 * const result = await changeDefencePolicyAudited({ sql, clock }, { tenantId, change: { lockout_mode: 'account_ip' }, actor })
 */
export async function changeDefencePolicyAudited(
  deps: AdministrationDeps,
  request: { tenantId: string; change: DefencePolicyChange; actor: AdminActor },
): Promise<ChangeDefencePolicyResult> {
  const { actor } = request
  return retryWhileChangedMeanwhile(() => deps.sql.begin(async (tx) => {
    const [row] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE id = ${request.tenantId}`
    if (!row) return { kind: 'not_found' } as const
    const current = tenantFromRow(row)
    const merged = DefencePolicySettings.safeParse({ ...current.defenceSettings, ...DefencePolicyChange.parse(request.change) })
    if (!merged.success) {
      const issue = merged.error.issues[0]!
      return { kind: 'invalid', field: issue.path.join('.') || 'defence_policy', detail: issue.message } as const
    }
    if (JSON.stringify(sortedKeys(merged.data)) === JSON.stringify(sortedKeys(current.defenceSettings))) {
      return { kind: 'changed', tenant: current, eventId: null } as const
    }
    const from = DefencePolicyChange.parse(row.defence_policy ?? {})
    const [event] = await recordEvents(
      tx,
      current,
      [{ eventType: 'tenant_defence_policy_changed', outcome: 'success', origin: actor.origin, organisationId: null, actorId: actor.userId, metadata: { actor_kind: actorKindOf(actor), from, to: merged.data } }],
      { now: deps.clock(), applyChanges: true },
    )
    const [updated] = await tx<TenantRow[]>`SELECT * FROM tenants WHERE id = ${current.id}`
    return { kind: 'changed', tenant: tenantFromRow(updated!), eventId: event!.id } as const
  }))
}

/** A policy with its keys in one order, so that two equal policies serialise alike. */
function sortedKeys(policy: DefencePolicySettings): DefencePolicySettings {
  return Object.fromEntries(Object.entries(policy).sort(([a], [b]) => a.localeCompare(b))) as DefencePolicySettings
}

/** One page of tenants in id order (creation order), after the cursor's id. */
export async function listTenants(sql: Sql, page: { after: string | null; limit: number }): Promise<{ tenants: Tenant[]; next: string | null }> {
  const rows = await sql<TenantRow[]>`
    SELECT * FROM tenants
    WHERE id <> '00000000-0000-0000-0000-000000000000' ${page.after ? sql`AND id > ${page.after}` : sql``}
    ORDER BY id LIMIT ${page.limit + 1}`
  const tenants = rows.slice(0, page.limit).map(tenantFromRow)
  return { tenants, next: rows.length > page.limit ? tenants[tenants.length - 1]!.id : null }
}
