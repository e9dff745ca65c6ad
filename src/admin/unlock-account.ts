import { appendAuthEvents } from '../audit/append-events.ts'
import { draftEvent } from '../audit/event-draft.ts'
import { uuidv7 } from '../core/ids.ts'
import { shardFor } from '../core/identifier.ts'
import { decideUnlock } from '../core/lockout-policy.ts'
import type { Sql } from '../db/client.ts'
import { lockoutStateFromRow } from '../db/lockouts.ts'
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

interface LockoutRowInScope {
  user_id: string | null
  user_organisation_id: string | null
  failed_login_attempts: number
  window_started_at: Date | null
  last_failed_at: Date | null
  account_locked_until: Date | null
  lockout_count: number
  last_locked_at: Date | null
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
    const [row] = await tx<LockoutRowInScope[]>`
      SELECT l.user_id, u.organisation_id AS user_organisation_id, l.failed_login_attempts, l.window_started_at,
        l.last_failed_at, l.account_locked_until, l.lockout_count, l.last_locked_at
      FROM account_lockouts l
      LEFT JOIN users u ON u.tenant_id = l.tenant_id AND u.id = l.user_id
      WHERE l.tenant_id = ${scope.tenantId} AND l.identifier = ${identifier}
        ${scope.organisationId === null ? tx`` : tx`AND (l.user_id IS NULL OR u.organisation_id = ${scope.organisationId})`}
      FOR UPDATE OF l`
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
    const event = draftEvent({
      id: uuidv7(now.getTime()),
      tenantId: tenant.id,
      retentionDays: tenant.retentionDays,
      now,
      eventType: 'lockout_reset',
      outcome: 'success',
      origin: actor.origin,
      organisationId: row.user_organisation_id,
      userId: row.user_id,
      identifier,
      reason: effect.reason,
      metadata: {
        previous_failed_attempts: effect.previousFailures,
        lockout_count: effect.lockoutCount,
        was_locked_until: previous.accountLockedUntil,
        was_locked: state.accountLockedUntil !== null && state.accountLockedUntil.getTime() > now.getTime(),
      },
      actorId: actor.userId,
    })
    await appendAuthEvents(tx, { tenantId: tenant.id, shard: shardFor(identifier, tenant.chainShards) }, [event], {
      identifier,
      userId: row.user_id,
      state: next,
      now,
    })
    return { kind: 'unlocked', eventId: event.id, previous }
  })
}
