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
}

export function tenantFromRow(row: TenantRow): Tenant {
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
}

/** Creates a tenant; its chain heads are created by the database (see the migration). */
export async function createTenant(sql: Sql, input: NewTenant): Promise<Tenant> {
  const p = input.lockoutPolicy ?? {}
  const [row] = await sql<TenantRow[]>`
    INSERT INTO tenants (id, slug, name, retention_days, can_download, chain_shards,
      lockout_max_failures, lockout_window_seconds, lockout_base_seconds, lockout_multiplier, lockout_max_seconds)
    VALUES (${uuidv7()}, ${input.slug}, ${input.name ?? input.slug}, ${input.retentionDays ?? 365},
      ${input.canDownload ?? false}, ${input.chainShards ?? 16},
      ${p.maxFailures ?? 5}, ${p.windowSeconds ?? 900}, ${p.baseLockSeconds ?? 300}, ${p.multiplier ?? 2}, ${p.maxLockSeconds ?? 86_400})
    RETURNING *`
  return tenantFromRow(row!)
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
