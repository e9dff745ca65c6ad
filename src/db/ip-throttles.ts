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
 * back should the attempt's events not be appended). Texts as the database wrote them, passed back unchanged.
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

/** A snapshot's row: the network's row as stored (all null without one), its version as text. */
export type ThrottleSnapshotRow = { [K in keyof ThrottleStateColumns]: ThrottleStateColumns[K] | null } & {
  failed_accounts: Record<string, string> | null
  version_xmin: string | null
  version_updated_at: string | null
}

/**
 * The snapshot's columns, of the network's row joined as `t` (throttleSnapshotJoin): the row as stored,
 * its failed accounts counted here (throttleSnapshotFromRow) rather than by the statement. Measured
 * (instructions per statement, callgrind, 800 runs): counting them with jsonb_each_text in a subquery
 * made the login's snapshot about twice as costly in PostgreSQL as the account's read alone, reading the
 * row plainly adds about half that.
 */
export function throttleSnapshotColumns(db: Queryable): postgres.PendingQuery<postgres.Row[]> {
  return db`t.budget_full_at, t.spray_budget_full_at, t.episode_started_at, t.episode_count, t.failed_accounts,
            t.xmin::text AS version_xmin, t.updated_at::text AS version_updated_at`
}

/** The network's row, joined as `t` to a one-row FROM (`(SELECT 1) AS one`): nulls when it has none. */
export function throttleSnapshotJoin(db: Queryable, tenantId: string, network: NetworkKey): postgres.PendingQuery<postgres.Row[]> {
  return db`LEFT JOIN ip_throttles t ON t.tenant_id = ${tenantId} AND t.network = ${network}`
}

/**
 * An instant as PostgreSQL writes a timestamptz into JSON (`2026-12-02T06:31:26.03+00:00`), in
 * microseconds since the epoch, exactly (a Date keeps milliseconds only); null for any other text.
 */
export function jsonInstantMicros(text: string): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/.exec(text)
  if (!m) return null
  const offsetSeconds = (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0))
  const seconds = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000 - offsetSeconds
  return seconds * 1_000_000 + Number((m[7] ?? '').padEnd(6, '0'))
}

/**
 * What the attempt of `identifier` decides on, from its network's row: the state, and the distinct
 * accounts other than its own the network failed against since `since` (the failures' instants compared
 * to the microsecond, as the database compares them); and the row's version, with the earliest failure it
 * notes. Should a noted instant not be read, the earliest is given as -infinity: append_login_attempt()
 * then counts again under the row's lock instead of trusting this count.
 */
export function throttleSnapshotFromRow(row: ThrottleSnapshotRow | undefined, identifier: string, since: Date): ThrottleSnapshot {
  if (row?.version_xmin == null) return { state: throttleStateFromRow(row), otherFailedAccounts: 0, version: null }
  const sinceMicros = since.getTime() * 1000
  let others = 0
  let oldest: string | null = null
  let oldestMicros = Number.POSITIVE_INFINITY
  for (const [account, at] of Object.entries(row.failed_accounts ?? {})) {
    const micros = jsonInstantMicros(at)
    if (micros === null) {
      oldest = '-infinity'
      oldestMicros = Number.NEGATIVE_INFINITY
      continue
    }
    if (account !== identifier && micros > sinceMicros) others++
    if (micros < oldestMicros) {
      oldestMicros = micros
      oldest = at
    }
  }
  return {
    state: throttleStateFromRow(row),
    otherFailedAccounts: others,
    version: { xmin: row.version_xmin, oldestFailedAt: oldest, ownFailedAt: row.failed_accounts?.[identifier] ?? null, updatedAt: row.version_updated_at! },
  }
}

/** The state as committed, without a lock, with the accounts the network failed against since `since`. */
export async function readThrottleSnapshot(db: Queryable, tenantId: string, network: NetworkKey, identifier: string, since: Date): Promise<ThrottleSnapshot> {
  const [row] = await db<ThrottleSnapshotRow[]>`SELECT ${throttleSnapshotColumns(db)} FROM (SELECT 1) AS one ${throttleSnapshotJoin(db, tenantId, network)}`
  return throttleSnapshotFromRow(row, identifier, since)
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
