import type { LockoutState } from '../core/lockout-policy.ts'
import type { Tx } from './client.ts'

interface LockoutRow {
  failed_login_attempts: number
  window_started_at: Date | null
  last_failed_at: Date | null
  account_locked_until: Date | null
  lockout_count: number
  last_locked_at: Date | null
}

export function lockoutStateFromRow(row: LockoutRow | undefined | null): LockoutState {
  return {
    failedLoginAttempts: row?.failed_login_attempts ?? 0,
    windowStartedAt: row?.window_started_at ?? null,
    lastFailedAt: row?.last_failed_at ?? null,
    accountLockedUntil: row?.account_locked_until ?? null,
    lockoutCount: row?.lockout_count ?? 0,
    lastLockedAt: row?.last_locked_at ?? null,
  }
}

/**
 * Takes the row lock on an identifier's lockout state (creating the row if needed) and returns the state
 * as committed by whoever held the lock before: concurrent attempts on one account queue here.
 */
export async function lockLockoutState(tx: Tx, tenantId: string, identifier: string, userId: string | null): Promise<LockoutState> {
  const [row] = await tx<LockoutRow[]>`
    INSERT INTO account_lockouts (tenant_id, identifier, user_id)
    VALUES (${tenantId}, ${identifier}, ${userId})
    ON CONFLICT ON CONSTRAINT account_lockouts_pkey DO UPDATE SET user_id = EXCLUDED.user_id
    RETURNING failed_login_attempts, window_started_at, last_failed_at, account_locked_until, lockout_count, last_locked_at`
  return lockoutStateFromRow(row)
}

/**
 * The statement that stores an identifier's new lockout state, as a fragment: appendAuthEvents runs it in
 * the same statement that writes the events, so state and audit trail cannot disagree.
 */
export function lockoutUpdate(tx: Tx, tenantId: string, identifier: string, state: LockoutState, now: Date) {
  return tx`
    UPDATE account_lockouts SET
      failed_login_attempts = ${state.failedLoginAttempts},
      window_started_at = ${state.windowStartedAt},
      last_failed_at = ${state.lastFailedAt},
      account_locked_until = ${state.accountLockedUntil},
      lockout_count = ${state.lockoutCount},
      last_locked_at = ${state.lastLockedAt},
      updated_at = ${now}
    WHERE tenant_id = ${tenantId} AND identifier = ${identifier}`
}
