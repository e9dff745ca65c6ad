import type { NetworkKey } from '../core/ip-throttle.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import type { Role } from '../core/tenancy.ts'
import type { Sql } from '../db/client.ts'
import { throttleSnapshotColumns, throttleSnapshotFromRow, throttleSnapshotJoin, type ThrottleSnapshot, type ThrottleSnapshotRow } from '../db/ip-throttles.ts'
import { lockoutStateFromRow, type LockoutStateColumns } from '../db/lockouts.ts'
import { theOneRow } from '../db/sqlstate.ts'

export interface LoginAccount {
  user: { id: string; organisationId: string; passwordHash: string; role: Role } | null
  /** A snapshot taken without a lock: the policy decides on it, and the append function re-checks it under the row lock. */
  lockout: LockoutState
}

/** The same columns, all null: what a LEFT JOIN gives when there is no such row. */
type Absent<T> = { [K in keyof T]: null }

type UserColumns = { user_id: string; organisation_id: string; password_hash: string; role: Role }

/** One row whatever exists: the user's columns or nulls, then the lockout state's columns or nulls. */
type LoginAccountRow = (UserColumns | Absent<UserColumns>) & (LockoutStateColumns | Absent<LockoutStateColumns>)

/** One round trip: the user (if any, and not disabled: a disabled one fails like an unknown identifier) and the lockout state of an identifier, scoped to the tenant. */
export async function findLoginAccount(sql: Sql, tenantId: string, identifier: string): Promise<LoginAccount> {
  return (await readLoginSnapshot(sql, tenantId, identifier, null)).account
}

/** Where an attempt comes from, for its throttle snapshot: the network and the start of the tenant's window. */
export interface ThrottledAddress {
  network: NetworkKey
  since: Date
}

/**
 * What a login attempt decides on, in one round trip: the account (as findLoginAccount) and, unless the
 * address is allow-listed (`address` null), its network's throttle snapshot (db/ip-throttles.ts), read
 * in the same statement and so from the same snapshot.
 */
export async function readLoginSnapshot(
  sql: Sql,
  tenantId: string,
  identifier: string,
  address: ThrottledAddress | null,
): Promise<{ account: LoginAccount; throttle: ThrottleSnapshot | null }> {
  const rows = await sql<(LoginAccountRow & Partial<ThrottleSnapshotRow>)[]>`
    SELECT u.id AS user_id, u.organisation_id, u.password_hash, u.role,
           l.failed_login_attempts, l.window_started_at, l.last_failed_at, l.account_locked_until,
           l.lockout_count, l.last_locked_at
           ${address ? sql`, ${throttleSnapshotColumns(sql)}` : sql``}
    FROM (SELECT 1) AS one
    LEFT JOIN users u ON u.tenant_id = ${tenantId} AND u.identifier = ${identifier} AND u.disabled_at IS NULL
    LEFT JOIN account_lockouts l ON l.tenant_id = ${tenantId} AND l.identifier = ${identifier}
    ${address ? throttleSnapshotJoin(sql, tenantId, address.network) : sql``}`
  // FROM (SELECT 1): exactly one row, whether or not the user, the state or the network's row exists.
  const row = theOneRow(rows, 'the login snapshot')
  return {
    account: {
      user: row.user_id === null ? null : { id: row.user_id, organisationId: row.organisation_id, passwordHash: row.password_hash, role: row.role },
      lockout: lockoutStateFromRow(row.failed_login_attempts === null ? null : row),
    },
    throttle: address ? throttleSnapshotFromRow(row as ThrottleSnapshotRow, identifier, address.since) : null,
  }
}
