import type { z } from 'zod'
import { DefencePolicySettings, defencePolicyOf, type DefencePolicy } from '../core/defence-policy.ts'
import { uuidv7 } from '../core/ids.ts'
import type { RegistrationMode, TenantSettings } from '../core/administration.ts'
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
  registrationMode: RegistrationMode
  /** Web origins allowed to call the API for this tenant. */
  allowedOrigins: string[]
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
  registration_mode: RegistrationMode
  allowed_origins: string[]
  created_at: Date
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
    registrationMode: row.registration_mode,
    allowedOrigins: row.allowed_origins,
  }
}

/** A tenant's settings by their column names, as administration events record them. */
export function tenantSettingsOf(tenant: Tenant): TenantSettings {
  const p = tenant.lockoutPolicy
  return {
    name: tenant.name,
    registration_mode: tenant.registrationMode,
    allowed_origins: tenant.allowedOrigins,
    retention_days: tenant.retentionDays,
    can_download: tenant.canDownload,
    lockout_max_failures: p.maxFailures,
    lockout_window_seconds: p.windowSeconds,
    lockout_base_seconds: p.baseLockSeconds,
    lockout_multiplier: p.multiplier,
    lockout_max_seconds: p.maxLockSeconds,
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
  /** Defaults to `invite`: a new tenant accepts only invited accounts until its operator opens it. */
  registrationMode?: RegistrationMode
  allowedOrigins?: string[]
}

/** Creates a tenant; its chain heads are created by the database (see the migration). */
export async function createTenant(sql: Queryable, input: NewTenant): Promise<Tenant> {
  const p = input.lockoutPolicy ?? {}
  const defence = DefencePolicySettings.parse(input.defencePolicy ?? {})
  const [row] = await sql<TenantRow[]>`
    INSERT INTO tenants (id, slug, name, retention_days, can_download, chain_shards,
      lockout_max_failures, lockout_window_seconds, lockout_base_seconds, lockout_multiplier, lockout_max_seconds, defence_policy,
      registration_mode, allowed_origins)
    VALUES (${uuidv7()}, ${input.slug}, ${input.name ?? input.slug}, ${input.retentionDays ?? 365},
      ${input.canDownload ?? false}, ${input.chainShards ?? 16},
      ${p.maxFailures ?? 5}, ${p.windowSeconds ?? 900}, ${p.baseLockSeconds ?? DEFAULT_LOCKOUT_SETTINGS.lockout_base_seconds}, ${p.multiplier ?? 2}, ${p.maxLockSeconds ?? DEFAULT_LOCKOUT_SETTINGS.lockout_max_seconds},
      ${sql.json(defence)}, ${input.registrationMode ?? 'invite'}, ${input.allowedOrigins ?? []})
    RETURNING *`
  return tenantFromRow(row!)
}

export async function createOrganisation(sql: Queryable, tenantId: string, name: string): Promise<{ id: string; name: string }> {
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

export async function createUser(sql: Queryable, input: NewUser): Promise<{ id: string }> {
  const id = uuidv7()
  await sql`
    INSERT INTO users (id, tenant_id, organisation_id, identifier, password_hash, role)
    VALUES (${id}, ${input.tenantId}, ${input.organisationId}, ${input.identifier}, ${input.passwordHash}, ${input.role ?? 'user'})`
  return { id }
}

/** A new tenant from settings by their column names (the administration API's and the command's spelling). */
export function newTenantFromSettings(input: Partial<TenantSettings> & { slug: string; chain_shards?: number }): NewTenant {
  const policy: Partial<LockoutPolicy> = {}
  if (input.lockout_max_failures !== undefined) policy.maxFailures = input.lockout_max_failures
  if (input.lockout_window_seconds !== undefined) policy.windowSeconds = input.lockout_window_seconds
  if (input.lockout_base_seconds !== undefined) policy.baseLockSeconds = input.lockout_base_seconds
  if (input.lockout_multiplier !== undefined) policy.multiplier = input.lockout_multiplier
  if (input.lockout_max_seconds !== undefined) policy.maxLockSeconds = input.lockout_max_seconds
  return {
    slug: input.slug,
    name: input.name,
    retentionDays: input.retention_days,
    canDownload: input.can_download,
    chainShards: input.chain_shards,
    lockoutPolicy: policy,
    registrationMode: input.registration_mode,
    allowedOrigins: input.allowed_origins,
  }
}

/** The lockout policy a new tenant gets for what its creator leaves out. */
export const DEFAULT_LOCKOUT_SETTINGS = { lockout_base_seconds: 300, lockout_max_seconds: 86_400 } as const
