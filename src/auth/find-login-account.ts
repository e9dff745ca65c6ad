import type { LockoutState } from '../core/lockout-policy.ts'
import type { Sql } from '../db/client.ts'
import { lockoutStateFromRow } from '../db/lockouts.ts'
import type { Role } from '../core/tenancy.ts'

export interface LoginAccount {
  user: { id: string; organisationId: string; passwordHash: string; role: Role } | null
  /** A snapshot taken without a lock: good enough to skip hashing for a locked account, re-read under lock. */
  lockout: LockoutState
}

/** One round trip: the user (if any) and the lockout state of an identifier, scoped to the tenant. */
export async function findLoginAccount(sql: Sql, tenantId: string, identifier: string): Promise<LoginAccount> {
  const [row] = await sql<Record<string, never>[]>`
    SELECT u.id AS user_id, u.organisation_id, u.password_hash, u.role,
           l.failed_login_attempts, l.window_started_at, l.last_failed_at, l.account_locked_until,
           l.lockout_count, l.last_locked_at
    FROM (SELECT 1) AS one
    LEFT JOIN users u ON u.tenant_id = ${tenantId} AND u.identifier = ${identifier}
    LEFT JOIN account_lockouts l ON l.tenant_id = ${tenantId} AND l.identifier = ${identifier}`
  const r = row as unknown as Record<string, unknown>
  return {
    user: r.user_id
      ? { id: r.user_id as string, organisationId: r.organisation_id as string, passwordHash: r.password_hash as string, role: r.role as Role }
      : null,
    lockout: lockoutStateFromRow(r.failed_login_attempts === null ? null : (r as never)),
  }
}
