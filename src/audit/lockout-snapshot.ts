import type { LockoutSnapshot } from '../core/auth-event.ts'
import type { LockoutState } from '../core/lockout-policy.ts'

/**
 * The lockout state after an event, as the outbox carries it to the document store (appendAuthEvents adds
 * the chain position that orders snapshots).
 */
export function lockoutSnapshot(tenantId: string, identifier: string, userId: string | null, state: LockoutState): Omit<LockoutSnapshot, 'shard' | 'seq'> {
  return {
    tenant_id: tenantId,
    identifier,
    user_id: userId,
    failed_login_attempts: state.failedLoginAttempts,
    account_locked_until: state.accountLockedUntil?.toISOString() ?? null,
    last_failed_at: state.lastFailedAt?.toISOString() ?? null,
    lockout_count: state.lockoutCount,
  }
}
