import type { Sql } from '../db/client.ts'
import { findLockoutInScope } from '../db/lockouts.ts'
import type { TenantScope } from '../core/tenancy.ts'

/** The live lockout state of one attempted identifier, read from the state row the login itself locks. */
export interface LockoutStatus {
  identifier: string
  user_id: string | null
  /** True when a login at `as_of` would be refused as locked. */
  locked: boolean
  account_locked_until: string | null
  retry_after_seconds: number | null
  /** Failures recorded in the current counting window (0 once the window has lapsed). */
  failed_login_attempts: number
  /** How many more failures within the window lock the account (0 while locked). */
  failures_until_lockout: number
  window_started_at: string | null
  last_failed_at: string | null
  /** Lockouts in the current escalation series (each doubles the duration up to the tenant maximum). */
  lockout_count: number
  last_locked_at: string | null
  updated_at: string
  /** The instant `locked` and the counters were evaluated at. */
  as_of: string
}

const iso = (d: Date | null) => d?.toISOString() ?? null

/**
 * Reads an identifier's lockout state row, scoped in SQL to the tenant and, for identifiers that belong to
 * an account, to the caller's organisation. Returns null when there is no such row in scope: an identifier
 * of another tenant or organisation is indistinguishable from one never attempted.
 *
 * @example
 * const status = await getLockoutStatus(sql, scope, normalizeIdentifier('Alice@Example.com'), new Date())
 */
export async function getLockoutStatus(sql: Sql, scope: TenantScope, identifier: string, now: Date): Promise<LockoutStatus | null> {
  const row = await findLockoutInScope(sql, scope, identifier)
  if (!row) return null
  const locked = row.account_locked_until !== null && row.account_locked_until.getTime() > now.getTime()
  const windowOpen =
    row.window_started_at !== null && now.getTime() - row.window_started_at.getTime() < row.lockout_window_seconds * 1000
  // Mirrors decideLogin: after a lapsed lock or window, the next failure counts from one again.
  const lockLapsed = row.account_locked_until !== null && !locked
  const counted = locked ? row.failed_login_attempts : windowOpen && !lockLapsed ? row.failed_login_attempts : 0
  return {
    identifier: row.identifier,
    user_id: row.user_id,
    locked,
    account_locked_until: iso(row.account_locked_until),
    retry_after_seconds: locked ? Math.max(1, Math.ceil((row.account_locked_until!.getTime() - now.getTime()) / 1000)) : null,
    failed_login_attempts: counted,
    failures_until_lockout: locked ? 0 : Math.max(0, row.lockout_max_failures - counted),
    window_started_at: iso(row.window_started_at),
    last_failed_at: iso(row.last_failed_at),
    lockout_count: row.lockout_count,
    last_locked_at: iso(row.last_locked_at),
    updated_at: row.updated_at.toISOString(),
    as_of: now.toISOString(),
  }
}
