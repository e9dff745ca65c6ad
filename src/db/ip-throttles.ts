import type postgres from 'postgres'
import type { IpThrottleState, NetworkKey } from '../core/ip-throttle.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import { lockoutStateFromJson, lockoutStateJson, type LockoutStateJson } from './lockouts.ts'
import type { Queryable } from './queryable.ts'

/**
 * Every read of ip_throttles (a network's state and the accounts it failed against, `failed_accounts`:
 * identifier to last failure), and the shape in which a login attempt's defence
 * state goes to append_login_attempt() (see its migration), which re-checks it under the row locks and
 * writes it with the attempt's events: the login decides with the pure throttle (core/ip-throttle.ts) on a
 * snapshot read here, without a lock.
 */
export interface IpThrottleRow {
  tenant_id: string
  network: string
  budget_full_at: Date | null
  spray_budget_full_at: Date | null
  episode_started_at: Date | null
  episode_count: number
  /** The accounts the network failed against (identifier to its last failure, as ISO text); aged ones go with its next failure. */
  failed_accounts: Record<string, string>
  updated_at: Date
}

type ThrottleStateColumns = Pick<IpThrottleRow, 'budget_full_at' | 'spray_budget_full_at' | 'episode_started_at' | 'episode_count'>

/** A network's state and the distinct accounts it failed against: what the throttle decides on. */
export interface ThrottleSnapshot {
  state: IpThrottleState
  /** Distinct accounts, other than the attempt's, the network failed against within the window. */
  otherFailedAccounts: number
  /** The version of the network's row read (null: it had none), passed back to append_login_attempt() as read. */
  version: ThrottleRowVersion | null
}

/**
 * Which version of a network's row a snapshot read (its xmin), and what append_login_attempt() needs of it to
 * write over it without reading it again: the earliest failure it notes (while that is within the window,
 * no account has aged out since the snapshot), the attempt's account's entry and updated_at (what is put
 * back should the attempt's events not be appended). Texts as the database wrote them, never parsed here.
 */
export interface ThrottleRowVersion {
  xmin: string
  oldestFailedAt: string | null
  ownFailedAt: string | null
  updatedAt: string
}

/** The state of a row; a network without a row has the empty state. */
export function throttleStateFromRow(row: { [K in keyof ThrottleStateColumns]?: ThrottleStateColumns[K] | null } | undefined | null): IpThrottleState {
  return {
    budgetFullAt: row?.budget_full_at ?? null,
    sprayBudgetFullAt: row?.spray_budget_full_at ?? null,
    episodeStartedAt: row?.episode_started_at ?? null,
    episodeCount: row?.episode_count ?? 0,
  }
}

/** A snapshot's row: the network's state columns (null without a row), its other failed accounts and its version. */
export type ThrottleSnapshotRow = { [K in keyof ThrottleStateColumns]: ThrottleStateColumns[K] | null } & {
  other_failed_accounts: number
  version_xmin: string | null
  oldest_failed_at: string | null
  own_failed_at: string | null
  version_updated_at: string | null
}

/**
 * The snapshot's query as a fragment, exactly one row: run alone (readThrottleSnapshot) or joined to the
 * account's read, so that a login reads both in one round trip (auth/find-login-account.ts).
 */
export function throttleSnapshotQuery(db: Queryable, tenantId: string, network: NetworkKey, identifier: string, since: Date): postgres.PendingQuery<ThrottleSnapshotRow[]> {
  return db<ThrottleSnapshotRow[]>`
    SELECT t.budget_full_at, t.spray_budget_full_at, t.episode_started_at, t.episode_count, a.other_failed_accounts,
      t.xmin::text AS version_xmin, a.oldest_failed_at, t.failed_accounts->>${identifier} AS own_failed_at, t.updated_at::text AS version_updated_at
    FROM (SELECT 1) AS one
    LEFT JOIN ip_throttles t ON t.tenant_id = ${tenantId} AND t.network = ${network}
    CROSS JOIN LATERAL (
      SELECT (count(*) FILTER (WHERE a.key <> ${identifier} AND a.value::timestamptz > ${since}))::int AS other_failed_accounts,
             min(a.value::timestamptz)::text AS oldest_failed_at
      FROM jsonb_each_text(t.failed_accounts) a) AS a`
}

export function throttleSnapshotFromRow(row: ThrottleSnapshotRow | undefined): ThrottleSnapshot {
  return {
    state: throttleStateFromRow(row),
    otherFailedAccounts: row?.other_failed_accounts ?? 0,
    version:
      row?.version_xmin == null
        ? null
        : { xmin: row.version_xmin, oldestFailedAt: row.oldest_failed_at, ownFailedAt: row.own_failed_at, updatedAt: row.version_updated_at! },
  }
}

/** The state as committed, without a lock, with the accounts the network failed against since `since`. */
export async function readThrottleSnapshot(db: Queryable, tenantId: string, network: NetworkKey, identifier: string, since: Date): Promise<ThrottleSnapshot> {
  const [row] = await throttleSnapshotQuery(db, tenantId, network, identifier, since)
  return throttleSnapshotFromRow(row)
}

type ThrottleStateJson = { budget_full_at: string | null; spray_budget_full_at: string | null; episode_started_at: string | null; episode_count: number }

function throttleStateJson(state: IpThrottleState): ThrottleStateJson {
  return {
    budget_full_at: state.budgetFullAt?.toISOString() ?? null,
    spray_budget_full_at: state.sprayBudgetFullAt?.toISOString() ?? null,
    episode_started_at: state.episodeStartedAt?.toISOString() ?? null,
    episode_count: state.episodeCount,
  }
}

/** What a login attempt writes about its address, checked against what it decided on. */
export interface DefenceWrite {
  network: NetworkKey
  /** The attempt's identifier: the account a failure is noted against, and whose network state is meant. */
  identifier: string
  /** Absent for an allow-listed network. `failed`: the attempt spent a failure (it was checked and failed). */
  throttle?: { expected: ThrottleSnapshot; since: Date; next: IpThrottleState; failed: boolean }
  /** Lockout mode account_ip, from a known or allow-listed network: the account's state from that network. */
  networkLockout?: { expected: LockoutState; next: LockoutState }
  /** A login succeeded: the network becomes known to the account. */
  rememberNetwork: boolean
}

export type DefenceWriteJson = ReturnType<typeof defenceWriteJson>

type ThrottleRowVersionJson = { xmin: string; oldest_failed_at: string | null; own_failed_at: string | null; updated_at: string }

function versionJson(version: ThrottleRowVersion | null): ThrottleRowVersionJson | null {
  return version && { xmin: version.xmin, oldest_failed_at: version.oldestFailedAt, own_failed_at: version.ownFailedAt, updated_at: version.updatedAt }
}

/** The `defence` object of append_login_attempt(). */
export function defenceWriteJson(write: DefenceWrite) {
  return {
    network: write.network,
    identifier: write.identifier,
    remember_network: write.rememberNetwork,
    ...(write.throttle && {
      throttle: {
        expected: throttleStateJson(write.throttle.expected.state),
        expected_other_accounts: write.throttle.expected.otherFailedAccounts,
        version: versionJson(write.throttle.expected.version),
        since: write.throttle.since.toISOString(),
        next: throttleStateJson(write.throttle.next),
        failed: write.throttle.failed,
      },
    }),
    ...(write.networkLockout && {
      network_lockout: { expected: lockoutStateJson(write.networkLockout.expected), next: lockoutStateJson(write.networkLockout.next) },
    }),
  }
}

/** What append_login_attempt() found instead of what the attempt decided on. */
export interface StaleDefence {
  throttle?: ThrottleSnapshot
  networkLockout?: LockoutState
}

export type StaleDefenceJson = { throttle?: ThrottleStateJson & { other_failed_accounts: number; version: ThrottleRowVersionJson | null }; network_lockout?: LockoutStateJson }

export function staleDefenceFromJson(json: StaleDefenceJson): StaleDefence {
  const at = (s: string | null) => (s === null ? null : new Date(s))
  const t = json.throttle
  return {
    ...(t && {
      throttle: {
        state: { budgetFullAt: at(t.budget_full_at), sprayBudgetFullAt: at(t.spray_budget_full_at), episodeStartedAt: at(t.episode_started_at), episodeCount: t.episode_count },
        otherFailedAccounts: t.other_failed_accounts,
        version: t.version && { xmin: t.version.xmin, oldestFailedAt: t.version.oldest_failed_at, ownFailedAt: t.version.own_failed_at, updatedAt: t.version.updated_at },
      },
    }),
    ...(json.network_lockout && { networkLockout: lockoutStateFromJson(json.network_lockout) }),
  }
}

/**
 * Networks in a throttling episode right now, across tenants (the Prometheus gauge). An episode is
 * closed lazily, by the network's next allowed attempt; one whose budgets have refilled is over.
 */
export async function countThrottledNetworks(sql: Queryable): Promise<number> {
  const [row] = await sql<{ throttled: number }[]>`
    SELECT count(*)::int AS throttled FROM ip_throttles
    WHERE episode_started_at IS NOT NULL AND greatest(budget_full_at, spray_budget_full_at) > now()`
  return row?.throttled ?? 0
}
