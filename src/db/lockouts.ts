import type { LockoutSnapshot } from '../core/auth-event.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import type { TenantScope } from '../core/tenancy.ts'
import type { Sql, Tx } from './client.ts'
import type { Queryable } from './queryable.ts'

/**
 * The account_lockouts table: the lockout state of each attempted identifier (existing or not, so an
 * unknown identifier locks exactly like a real one). Every statement on the table is in this module, and
 * this is the only declaration of its row.
 *
 * The state is written only together with the events that explain it, by the append function
 * (append_auth_events, see db/append-auth-events.ts): the login decides with the pure policy on the state
 * it read and the function re-checks that state under the row lock; the admin unlock locks the row here
 * (findLockoutInScope with `lock`) first.
 */
export interface AccountLockoutRow {
  tenant_id: string
  identifier: string
  user_id: string | null
  failed_login_attempts: number
  window_started_at: Date | null
  last_failed_at: Date | null
  account_locked_until: Date | null
  lockout_count: number
  last_locked_at: Date | null
  updated_at: Date
}

/** The columns that hold the state the policy decides on. */
export type LockoutStateColumns = Pick<
  AccountLockoutRow,
  'failed_login_attempts' | 'window_started_at' | 'last_failed_at' | 'account_locked_until' | 'lockout_count' | 'last_locked_at'
>

/** A new lockout state to store with the events of the attempt (or unlock) that produced it. */
export interface LockoutWrite {
  identifier: string
  userId: string | null
  state: LockoutState
}

/** The state of a row; an identifier without a row has the empty state. */
export function lockoutStateFromRow(row: LockoutStateColumns | undefined | null): LockoutState {
  return {
    failedLoginAttempts: row?.failed_login_attempts ?? 0,
    windowStartedAt: row?.window_started_at ?? null,
    lastFailedAt: row?.last_failed_at ?? null,
    accountLockedUntil: row?.account_locked_until ?? null,
    lockoutCount: row?.lockout_count ?? 0,
    lastLockedAt: row?.last_locked_at ?? null,
  }
}

/** A lockout state as the append function reads and answers it: the row's columns, instants as ISO strings. */
export type LockoutStateJson = { [K in keyof LockoutStateColumns]: LockoutStateColumns[K] extends Date | null ? string | null : LockoutStateColumns[K] }

export function lockoutStateJson(state: LockoutState): LockoutStateJson {
  return {
    failed_login_attempts: state.failedLoginAttempts,
    window_started_at: state.windowStartedAt?.toISOString() ?? null,
    last_failed_at: state.lastFailedAt?.toISOString() ?? null,
    account_locked_until: state.accountLockedUntil?.toISOString() ?? null,
    lockout_count: state.lockoutCount,
    last_locked_at: state.lastLockedAt?.toISOString() ?? null,
  }
}

export function lockoutStateFromJson(json: LockoutStateJson): LockoutState {
  const at = (s: string | null) => (s === null ? null : new Date(s))
  return {
    failedLoginAttempts: json.failed_login_attempts,
    windowStartedAt: at(json.window_started_at),
    lastFailedAt: at(json.last_failed_at),
    accountLockedUntil: at(json.account_locked_until),
    lockoutCount: json.lockout_count,
    lastLockedAt: at(json.last_locked_at),
  }
}

/** A lockout row as seen within a scope, with the organisation of its account and the tenant's counting policy. */
export interface LockoutInScope extends AccountLockoutRow {
  user_organisation_id: string | null
  lockout_max_failures: number
  lockout_window_seconds: number
}

/**
 * An identifier's lockout row, looked up in SQL within the caller's tenant and, for an identifier that
 * belongs to an account, organisation; null when there is none in scope, so an identifier of another
 * tenant or organisation is indistinguishable from one never attempted. With `lock`, the row is locked
 * (FOR UPDATE) so that what follows serialises with concurrent login attempts.
 */
export async function findLockoutInScope(db: Queryable, scope: TenantScope, identifier: string, options: { lock?: boolean } = {}): Promise<LockoutInScope | null> {
  const [row] = await db<LockoutInScope[]>`
    SELECT l.*, u.organisation_id AS user_organisation_id, t.lockout_max_failures, t.lockout_window_seconds
    FROM account_lockouts l
    JOIN tenants t ON t.id = l.tenant_id
    LEFT JOIN users u ON u.tenant_id = l.tenant_id AND u.id = l.user_id
    WHERE l.tenant_id = ${scope.tenantId} AND l.identifier = ${identifier}
      ${scope.organisationId === null ? db`` : db`AND (l.user_id IS NULL OR u.organisation_id = ${scope.organisationId})`}
    ${options.lock ? db`FOR UPDATE OF l` : db``}`
  return row ?? null
}

/**
 * The lockout state after an event, as the outbox carries it to the document store (recordEvents adds
 * the chain position that orders snapshots).
 */
export function lockoutSnapshot(tenantId: string, write: LockoutWrite): Omit<LockoutSnapshot, 'shard' | 'seq'> {
  return {
    tenant_id: tenantId,
    identifier: write.identifier,
    user_id: write.userId,
    failed_login_attempts: write.state.failedLoginAttempts,
    account_locked_until: write.state.accountLockedUntil?.toISOString() ?? null,
    last_failed_at: write.state.lastFailedAt?.toISOString() ?? null,
    lockout_count: write.state.lockoutCount,
  }
}

/** Identifiers locked right now, across tenants (the Prometheus gauge; reads the locked rows' index only). */
export async function countLockedAccounts(sql: Sql): Promise<number> {
  const [row] = await sql<{ locked: number }[]>`
    SELECT count(*)::int AS locked FROM account_lockouts WHERE account_locked_until > now()`
  return row?.locked ?? 0
}

/** An identifier locked right now, as the console lists it. */
export interface LockedAccountRow {
  identifier: string
  user_id: string | null
  account_locked_until: Date
  lockout_count: number
  last_locked_at: Date | null
}

/**
 * Identifiers locked at `now` within a scope (tenant, and for an account the organisation, as
 * findLockoutInScope), the longest lock first: the `limit` first of them and how many there are in all.
 */
export async function listLockedInScope(sql: Queryable, scope: TenantScope, now: Date, limit: number): Promise<{ count: number; accounts: LockedAccountRow[] }> {
  const rows = await sql<(LockedAccountRow & { total: number })[]>`
    SELECT l.identifier, l.user_id, l.account_locked_until, l.lockout_count, l.last_locked_at, count(*) OVER ()::int AS total
    FROM account_lockouts l
    LEFT JOIN users u ON u.tenant_id = l.tenant_id AND u.id = l.user_id
    WHERE l.tenant_id = ${scope.tenantId} AND l.account_locked_until > ${now}
      ${scope.organisationId === null ? sql`` : sql`AND (l.user_id IS NULL OR u.organisation_id = ${scope.organisationId})`}
    ORDER BY l.account_locked_until DESC, l.identifier
    LIMIT ${limit}`
  return { count: rows[0]?.total ?? 0, accounts: rows.map(({ total: _total, ...row }) => row) }
}
