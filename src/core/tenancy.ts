/**
 * Tenants, roles and scopes: the vocabulary every layer shares about who owns what. Pure declarations.
 */

/** What a token allows: log in (`user`), administer the tenant (`admin`), read its audit trail (`auditor`). */
export const ROLES = ['user', 'admin', 'auditor'] as const
export type Role = (typeof ROLES)[number]

/** What the audit trail needs to know of a tenant to place its events: id, retention, chain shards. */
export interface ChainOwner {
  id: string
  /** Each event's `expires_at` is fixed at ingestion from this. */
  retentionDays: number
  /** Fixed at creation: an account's events always go to the same shard. */
  chainShards: number
}

/**
 * The reserved tenant whose chains record attempts that name no known tenant (unknown tenant, unreadable
 * body). Nobody can log in to it. Created by migrations/20261123000800_insert_system_tenant.sql, with as
 * many chains as a tenant since migrations/20261203010100_spread_unattributed_tenant_over_shards.sql.
 */
export const UNATTRIBUTED_TENANT: ChainOwner = { id: '00000000-0000-0000-0000-000000000000', retentionDays: 90, chainShards: 16 }
export const UNATTRIBUTED_TENANT_ID = UNATTRIBUTED_TENANT.id

/**
 * Tenant-level events (an export, a retention purge, an attempt that names no account) belong to no
 * account, so they go to one fixed chain shard. Account-level ones go to the account's shard.
 */
export const TENANT_SHARD = 0

/**
 * Whose events a query may see: one tenant, and within it one organisation. Events that belong to no
 * organisation (attempts on identifiers without an account, tenant-level administration) are visible to
 * every organisation of the tenant. `organisationId: null` widens the scope to the whole tenant: for
 * operators, the CLI and benchmarks, never for a bearer token.
 */
export interface TenantScope {
  tenantId: string
  organisationId: string | null
}

/** The scope a session's claims grant. */
export function scopeOfSession(session: { tid: string; org: string }): TenantScope {
  return { tenantId: session.tid, organisationId: session.org }
}
