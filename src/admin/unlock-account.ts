import { recordEvents } from '../audit/record-events.ts'
import { decideUnlock } from '../core/lockout-policy.ts'
import type { Sql } from '../db/client.ts'
import { findLockoutInScope, lockoutStateFromRow } from '../db/lockouts.ts'
import type { Tenant } from '../db/tenants.ts'
import type { TenantScope } from '../core/tenancy.ts'
import type { AdminActor } from './admin-actor.ts'

export interface UnlockDeps {
  sql: Sql
  clock: () => Date
}

export interface UnlockRequest {
  tenant: Tenant
  scope: TenantScope
  /** Already normalised. */
  identifier: string
  actor: AdminActor
}

export type UnlockResult =
  /** No lockout state for this identifier within the caller's scope. */
  | { kind: 'not_found' }
  /** Nothing to clear: no failures counted and no lock. Nothing is written. */
  | { kind: 'not_locked' }
  | {
      kind: 'unlocked'
      eventId: string
      previous: { failedLoginAttempts: number; accountLockedUntil: string | null; lockoutCount: number }
    }

/**
 * An administrator's unlock: in one transaction, locks the identifier's lockout row (so it serialises
 * with concurrent login attempts), clears the state and its escalation (decideUnlock), and appends
 * `lockout_reset` (reason admin_unlock, the administrator as actor) to the account's chain with its
 * outbox row. The row is looked up within the caller's tenant and organisation in SQL.
 *
 * @example
 * const result = await unlockAccount({ sql, clock }, { tenant, scope, identifier: 'alice@example.com', actor })
 */
export async function unlockAccount(deps: UnlockDeps, request: UnlockRequest): Promise<UnlockResult> {
  const { tenant, scope, identifier, actor } = request
  return deps.sql.begin(async (tx) => {
    const row = await findLockoutInScope(tx, scope, identifier, { lock: true })
    if (!row) return { kind: 'not_found' }

    const state = lockoutStateFromRow(row)
    const { effect, next } = decideUnlock(state)
    if (!effect || effect.type !== 'lockout_reset') return { kind: 'not_locked' }

    const now = deps.clock()
    const previous = {
      failedLoginAttempts: state.failedLoginAttempts,
      accountLockedUntil: state.accountLockedUntil?.toISOString() ?? null,
      lockoutCount: state.lockoutCount,
    }
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'lockout_reset',
          outcome: 'success',
          reason: effect.reason,
          origin: actor.origin,
          organisationId: row.user_organisation_id,
          userId: row.user_id,
          identifier,
          actorId: actor.userId,
          metadata: {
            previous_failed_attempts: effect.previousFailures,
            lockout_count: effect.lockoutCount,
            was_locked_until: previous.accountLockedUntil,
            was_locked: state.accountLockedUntil !== null && state.accountLockedUntil.getTime() > now.getTime(),
          },
        },
      ],
      { now, lockout: { identifier, userId: row.user_id, state: next } },
    )
    return { kind: 'unlocked', eventId: event!.id, previous }
  })
}
