import type { NetworkKey } from '../core/ip-throttle.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import { lockoutStateFromRow, type LockoutStateColumns } from './lockouts.ts'
import type { Queryable } from './queryable.ts'

/**
 * Lockout mode `account_ip`: the networks an account has logged in from (account_known_networks), and the
 * lockout state of an account from one known or allow-listed network (account_network_lockouts), which
 * the account's own lock does not bind. Both are written by append_login_attempt() with the attempt's
 * events; the state has the columns and the policy of account_lockouts (core/lockout-policy.ts).
 */

/** What the login needs to know about an account and a network, read without a lock. */
export interface AccountNetworkSnapshot {
  /** The account logged in from the network since `knownSince`. */
  known: boolean
  /** The lockout state of the account from the network. */
  lockout: LockoutState
}

export async function readAccountNetwork(db: Queryable, tenantId: string, identifier: string, network: NetworkKey, knownSince: Date): Promise<AccountNetworkSnapshot> {
  const [row] = await db<(Partial<LockoutStateColumns> & { known: boolean })[]>`
    SELECT EXISTS (SELECT 1 FROM account_known_networks k
             WHERE k.tenant_id = ${tenantId} AND k.identifier = ${identifier} AND k.network = ${network} AND k.last_success_at > ${knownSince}) AS known,
           l.failed_login_attempts, l.window_started_at, l.last_failed_at, l.account_locked_until, l.lockout_count, l.last_locked_at
    FROM (SELECT 1) AS one
    LEFT JOIN account_network_lockouts l ON l.tenant_id = ${tenantId} AND l.identifier = ${identifier} AND l.network = ${network}`
  const state = row?.failed_login_attempts == null ? null : (row as LockoutStateColumns)
  return { known: row?.known ?? false, lockout: lockoutStateFromRow(state) }
}
