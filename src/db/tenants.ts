import type { z } from 'zod'
import { DefencePolicySettings, defencePolicyOf, type DefencePolicy } from '../core/defence-policy.ts'
import { uuidv7 } from '../core/ids.ts'
import type { LockoutPolicy } from '../core/lockout-policy.ts'
import type { ChainOwner } from '../core/tenancy.ts'
import type { Role } from '../core/tenancy.ts'
import type { Sql } from './client.ts'
import type { Queryable } from './queryable.ts'

export interface Tenant extends ChainOwner {
  slug: string
  name: string
  canDownload: boolean
  lockoutPolicy: LockoutPolicy
  /** Per-address budgets, allow-list and lockout mode, validated (see core/defence-policy.ts). */
  defencePolicy: DefencePolicy
  defenceSettings: DefencePolicySettings
}

export interface TenantRow {
  id: string
  slug: string
  name: string
  retention_days: number
  can_download: boolean
  chain_shards: number
  lockout_max_failures: number
  lockout_window_seconds: number
  lockout_base_seconds: number
  lockout_multiplier: number
  lockout_max_seconds: number
  defence_policy: unknown
}

export function tenantFromRow(row: TenantRow): Tenant {
  // A stored policy that does not validate throws: a login is never decided on a policy no one wrote.
  const defenceSettings = DefencePolicySettings.parse(row.defence_policy ?? {})
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    retentionDays: row.retention_days,
    canDownload: row.can_download,
    chainShards: row.chain_shards,
    lockoutPolicy: {
      maxFailures: row.lockout_max_failures,
      windowSeconds: row.lockout_window_seconds,
      baseLockSeconds: row.lockout_base_seconds,
      multiplier: row.lockout_multiplier,
      maxLockSeconds: row.lockout_max_seconds,
    },
    defencePolicy: defencePolicyOf(defenceSettings),
    defenceSettings,
  }
}

export async function findTenantBySlug(sql: Queryable, slug: string): Promise<Tenant | null> {
  const [row] = await sql<TenantRow[]>`SELECT * FROM tenants WHERE slug = ${slug}`
  return row ? tenantFromRow(row) : null
}

export async function findTenantById(sql: Queryable, id: string): Promise<Tenant | null> {
  const [row] = await sql<TenantRow[]>`SELECT * FROM tenants WHERE id = ${id}`
  return row ? tenantFromRow(row) : null
}

export interface NewTenant {
  slug: string
  name?: string
  retentionDays?: number
  canDownload?: boolean
  chainShards?: number
  lockoutPolicy?: Partial<LockoutPolicy>
  /** Fields left out take their defaults. */
  defencePolicy?: z.input<typeof DefencePolicySettings>
}

/** Creates a tenant; its chain heads are created by the database (see the migration). */
export async function createTenant(sql: Sql, input: NewTenant): Promise<Tenant> {
  const p = input.lockoutPolicy ?? {}
  const defence = DefencePolicySettings.parse(input.defencePolicy ?? {})
  const [row] = await sql<TenantRow[]>`
    INSERT INTO tenants (id, slug, name, retention_days, can_download, chain_shards,
      lockout_max_failures, lockout_window_seconds, lockout_base_seconds, lockout_multiplier, lockout_max_seconds, defence_policy)
    VALUES (${uuidv7()}, ${input.slug}, ${input.name ?? input.slug}, ${input.retentionDays ?? 365},
      ${input.canDownload ?? false}, ${input.chainShards ?? 16},
      ${p.maxFailures ?? 5}, ${p.windowSeconds ?? 900}, ${p.baseLockSeconds ?? 300}, ${p.multiplier ?? 2}, ${p.maxLockSeconds ?? 86_400},
      ${sql.json(defence)})
    RETURNING *`
  return tenantFromRow(row!)
}

/**
 * Replaces a tenant's defence policy (validated; fields left out take their defaults) and returns the
 * tenant as it now is, or null when there is no such tenant.
 */
export async function updateDefencePolicy(sql: Queryable, tenantId: string, settings: z.input<typeof DefencePolicySettings>): Promise<Tenant | null> {
  const defence = DefencePolicySettings.parse(settings)
  const [row] = await sql<TenantRow[]>`
    UPDATE tenants SET defence_policy = ${sql.json(defence)} WHERE id = ${tenantId} RETURNING *`
  return row ? tenantFromRow(row) : null
}

export async function createOrganisation(sql: Sql, tenantId: string, name: string): Promise<{ id: string; name: string }> {
  const id = uuidv7()
  await sql`INSERT INTO organisations (id, tenant_id, name) VALUES (${id}, ${tenantId}, ${name})`
  return { id, name }
}

export interface NewUser {
  tenantId: string
  organisationId: string
  identifier: string
  passwordHash: string
  role?: Role
}

export async function createUser(sql: Sql, input: NewUser): Promise<{ id: string }> {
  const id = uuidv7()
  await sql`
    INSERT INTO users (id, tenant_id, organisation_id, identifier, password_hash, role)
    VALUES (${id}, ${input.tenantId}, ${input.organisationId}, ${input.identifier}, ${input.passwordHash}, ${input.role ?? 'user'})`
  return { id }
}
