import type postgres from 'postgres'
import type { TenantScope } from '../core/tenancy.ts'
import type { Sql } from './client.ts'

/**
 * The organisation half of a scope as a SQL fragment over `auth_logs` (optionally aliased). The tenant
 * half is always written out in each query, next to the index it uses.
 */
export function organisationClause(sql: Sql, scope: TenantScope, alias?: string): postgres.PendingQuery<postgres.Row[]> {
  if (scope.organisationId === null) return sql``
  const column = sql(alias ? `${alias}.organisation_id` : 'organisation_id')
  return sql`AND (${column} = ${scope.organisationId} OR ${column} IS NULL)`
}
