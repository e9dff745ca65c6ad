import type { Sql } from '../db/client.ts'

export interface RollupFoldOptions {
  /**
   * How long after an hour ends before it is folded. An attempt's `occurred_at` is the service's clock
   * when the attempt began, and its append commits within the request's deadline or rolls back, so an
   * hour can still receive events for that long after it ends (plus any clock difference between the
   * service's hosts and the database): the lag must exceed both.
   */
  lagSeconds: number
  /** Hours folded per tenant in one call at most, so that a long backlog does not hold one round for long. */
  maxHoursPerTenant?: number
}

export interface RollupFoldResult {
  /** Hours folded, over all tenants. */
  hours: number
  /** Tenants with at least one hour folded. */
  tenants: number
}

/**
 * Folds every tenant's closed hours into the incident rollups, oldest first. Each hour is one call of
 * `fold_incident_rollup_hour()`, one transaction that writes the hour's rows (and every bucket it
 * completes) and advances the tenant's watermark together: a crash or a lost answer leaves either the
 * whole hour folded or none of it, and the next call folds the next hour, never one twice. Several folders
 * may run at once (one per service instance): the watermark row lock serialises them per tenant.
 */
export async function foldIncidentRollups(sql: Sql, options: RollupFoldOptions): Promise<RollupFoldResult> {
  const maxHours = options.maxHoursPerTenant ?? 24 * 45
  const tenants = await sql<{ id: string }[]>`SELECT id FROM tenants ORDER BY id`
  let hours = 0
  let touched = 0
  for (const { id } of tenants) {
    let folded = 0
    while (folded < maxHours) {
      const [row] = await sql<{ hour: Date | null }[]>`
        SELECT fold_incident_rollup_hour(${id}, make_interval(secs => ${options.lagSeconds})) AS hour`
      if (!row?.hour) break
      folded++
    }
    hours += folded
    if (folded > 0) touched++
  }
  return { hours, tenants: touched }
}
