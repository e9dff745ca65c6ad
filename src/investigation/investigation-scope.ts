import type postgres from 'postgres'
import type { Sql } from '../db/client.ts'

/**
 * Whose events a query may see: one tenant, and within it one organisation. Events that belong to no
 * organisation (attempts on identifiers without an account, tenant-level administration) are visible to
 * every organisation of the tenant. `organisationId: null` widens the scope to the whole tenant: for
 * operators, the CLI and benchmarks, never for a bearer token.
 */
export interface InvestigationScope {
  tenantId: string
  organisationId: string | null
}

/** The scope a session's claims grant. */
export function scopeOfSession(session: { tid: string; org: string }): InvestigationScope {
  return { tenantId: session.tid, organisationId: session.org }
}

/**
 * The organisation half of the scope as a SQL fragment over `auth_logs` (optionally aliased). The tenant
 * half is always written out in each query, next to the index it uses.
 */
export function organisationClause(sql: Sql, scope: InvestigationScope, alias?: string): postgres.PendingQuery<postgres.Row[]> {
  if (scope.organisationId === null) return sql``
  const column = sql(alias ? `${alias}.organisation_id` : 'organisation_id')
  return sql`AND (${column} = ${scope.organisationId} OR ${column} IS NULL)`
}
