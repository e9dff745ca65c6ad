import type { AuthEventOf } from '../core/auth-event.ts'
import type { Channel, EventType } from '../core/event-types.ts'
import type { Sql } from '../db/client.ts'
import { organisationClause } from '../db/organisation-clause.ts'
import type { TenantScope } from '../core/tenancy.ts'
import { planWindow, type WindowPlan } from '../core/rollup-buckets.ts'

export interface IncidentReportOptions {
  /** Inclusive. */
  from: Date
  /** Exclusive. */
  to: Date
  /** A success that followed at least this many failures on its account (since the account's previous success in the window) is suspicious. */
  minFailures: number
  /** An IP whose failures touched at least this many accounts is listed as password spraying. */
  sprayMinAccounts: number
  /** An account whose failures came from at least this many IPs is listed as a distributed attack. */
  distributedMinIps: number
  /** Entries per ranking, lockout timeline entries and suspicious successes. */
  limit: number
  /** Failures listed per suspicious success (the most recent ones; the count is always complete). */
  failureDetailLimit?: number
  /**
   * Where the activity sections (totals, account and address rankings, and the accounts whose runs are
   * examined for suspicious successes) come from: `rollups` (the default) reads the incident rollups for
   * the window's whole folded hours and the trail for the rest; `events` reads the trail alone (the full
   * scan). Both give the same report.
   */
  source?: 'rollups' | 'events'
}

/** Failed logins against one attempted identifier (with or without an account behind it). */
export interface AccountActivity {
  identifier: string
  user_id: string | null
  failures: number
  distinct_ips: number
  lockouts: number
  successes: number
  first_failure_at: string
  last_failure_at: string
}

/** What one source address did in the window. */
export interface SourceActivity {
  ip: string
  failures: number
  successes: number
  /** Distinct identifiers its failures named: many means password spraying. */
  distinct_accounts: number
  /** Lockouts its own attempts triggered. */
  lockouts_triggered: number
  first_seen_at: string
  last_seen_at: string
}

/** A network (IPv4 address, IPv6 /64) the per-address throttle refused in the window. */
export interface ThrottledAddress {
  network: string
  /** Throttling episodes begun (ip_throttled events). */
  episodes: number
  /** Attempts refused unchecked (429). */
  throttled_attempts: number
  /** Which budget refused: the plain one, the spraying one, or both over the window. */
  reasons: ('failure_budget' | 'spraying')[]
  first_throttled_at: string
  last_throttled_at: string
}

export interface LockoutTimelineEntry {
  event_id: string
  occurred_at: string
  event_type: Extract<EventType, 'account_locked' | 'lockout_reset'>
  identifier: string | null
  user_id: string | null
  ip: string | null
  channel: Channel
  reason: string | null
  actor_id: string | null
  locked_until: string | null
  failed_attempts: number | null
  lockout_count: number | null
}

export interface AttemptSummary {
  event_id: string
  occurred_at: string
  ip: string | null
  user_agent: string | null
  channel: Channel
  device_id: string | null
  reason: string | null
}

/** A successful login that followed a run of failures on the same account: a possible compromise. */
export interface SuspiciousSuccess extends AttemptSummary {
  identifier: string
  user_id: string | null
  /** Failures since the account's previous success in the window (or the window's start). */
  preceding_failures: number
  failures: AttemptSummary[]
  failures_truncated: boolean
  failure_ips: string[]
  /** The success came from an address that also failed on this account: the attacker's own guess. */
  ip_seen_in_failures: boolean
}

export interface IncidentReport {
  window: { from: string; to: string }
  parameters: { min_failures: number; spray_min_accounts: number; distributed_min_ips: number; limit: number }
  totals: {
    login_attempts: number
    failures: number
    successes: number
    lockouts: number
    targeted_accounts: number
    source_ips: number
    suspicious_successes: number
  }
  /** Accounts ranked by failures. */
  targeted_accounts: AccountActivity[]
  /** Accounts attacked from at least `distributed_min_ips` addresses, ranked by distinct IPs. */
  distributed_attacks: AccountActivity[]
  /** Source addresses ranked by failures. */
  source_ips: SourceActivity[]
  /** Addresses whose failures touched at least `spray_min_accounts` accounts, ranked by distinct accounts. */
  password_spraying: SourceActivity[]
  /** Networks the per-address throttle refused, ranked by refused attempts. */
  throttled_addresses: ThrottledAddress[]
  /**
   * Lockouts and what ended them (expiry, an administrator), in order. The counter reset a success
   * writes after ordinary failures is not a lockout event and is left out.
   */
  lockout_timeline: LockoutTimelineEntry[]
  /** In order of the success. */
  suspicious_successes: SuspiciousSuccess[]
  /** Lists cut at `limit`; the totals are never cut. */
  truncated: {
    targeted_accounts: boolean
    distributed_attacks: boolean
    source_ips: boolean
    password_spraying: boolean
    throttled_addresses: boolean
    lockout_timeline: boolean
    suspicious_successes: boolean
  }
}

const ATTEMPT_TYPES = ['login_failed', 'login_success', 'account_locked']

/**
 * Reconstructs an attack in a time window from the tenant's audit trail: who was targeted, from where,
 * which accounts were sprayed or attacked from many addresses, when accounts locked and unlocked, and
 * every success that came after a run of failures. All sections read one snapshot (a repeatable-read,
 * read-only transaction), so they agree with each other even while attempts keep arriving. Scoped to
 * the tenant and organisation in SQL.
 *
 * @example
 * const report = await buildIncidentReport(sql, scope, {
 *   from: new Date('2026-11-23T10:00:00Z'), to: new Date('2026-11-23T11:00:00Z'),
 *   minFailures: 3, sprayMinAccounts: 3, distributedMinIps: 3, limit: 50,
 * })
 */
export async function buildIncidentReport(sql: Sql, scope: TenantScope, options: IncidentReportOptions): Promise<IncidentReport> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const db = tx as unknown as Sql
    // Sorting and hashing a busy window's attempts in memory instead of on disk; this transaction only.
    await tx`SET LOCAL work_mem = '64MB'`
    // Planned for each call's own window and candidates: a generic plan (the client prepares statements, and
    // PostgreSQL switches to one after five calls) cannot see that a month-long window makes the time index
    // useless per account, and then reads the whole window once per candidate account.
    await tx`SET LOCAL plan_cache_mode = force_custom_plan`
    // No JIT compilation: the report's statements run once per request, and compiling their expressions cost
    // more than it saved (0.8 s of the suspicious-successes statement's 11.9 s at 10M events, 2026-12-02).
    await tx`SET LOCAL jit = off`
    const plan = await planReport(db, scope, options)
    const { totals, accounts, sources, candidates } = await readActivity(db, scope, options, plan)
    const timeline = await readLockoutTimeline(db, scope, options)
    const throttledAddresses = await readThrottledAddresses(db, scope, options)
    const suspicious = await readSuspiciousSuccesses(db, scope, options, candidates)
    const cut = <T>(list: T[]) => ({ list: list.slice(0, options.limit), truncated: list.length > options.limit })
    const targeted = cut(accounts.byFailures)
    const distributed = cut(accounts.distributed)
    const ips = cut(sources.byFailures)
    const spraying = cut(sources.spraying)
    const throttled = cut(throttledAddresses)
    const lockouts = cut(timeline)
    return {
      window: { from: options.from.toISOString(), to: options.to.toISOString() },
      parameters: {
        min_failures: options.minFailures,
        spray_min_accounts: options.sprayMinAccounts,
        distributed_min_ips: options.distributedMinIps,
        limit: options.limit,
      },
      totals: { ...totals, suspicious_successes: suspicious.total },
      targeted_accounts: targeted.list,
      distributed_attacks: distributed.list,
      source_ips: ips.list,
      password_spraying: spraying.list,
      throttled_addresses: throttled.list,
      lockout_timeline: lockouts.list,
      suspicious_successes: suspicious.successes,
      truncated: {
        targeted_accounts: targeted.truncated,
        distributed_attacks: distributed.truncated,
        source_ips: ips.truncated,
        password_spraying: spraying.truncated,
        throttled_addresses: throttled.truncated,
        lockout_timeline: lockouts.truncated,
        suspicious_successes: suspicious.total > suspicious.successes.length,
      },
    }
  })
}

/** The throttle's refusals and episodes in the window, per network (the network is in each event's metadata). */
async function readThrottledAddresses(sql: Sql, scope: TenantScope, options: IncidentReportOptions): Promise<ThrottledAddress[]> {
  const rows = await sql<{ network: string; episodes: number; throttled_attempts: number; reasons: ThrottledAddress['reasons']; first_at: Date; last_at: Date }[]>`
    SELECT metadata->>'network' AS network,
      count(*) FILTER (WHERE event_type = 'ip_throttled')::int AS episodes,
      count(*) FILTER (WHERE event_type = 'login_failed')::int AS throttled_attempts,
      coalesce(array_agg(DISTINCT reason ORDER BY reason) FILTER (WHERE event_type = 'ip_throttled'), '{}') AS reasons,
      min(occurred_at) AS first_at, max(occurred_at) AS last_at
    FROM auth_logs
    WHERE ${windowClause(sql, scope, options)}
      AND (event_type = 'ip_throttled' OR (event_type = 'login_failed' AND reason = 'ip_throttled'))
    GROUP BY 1 ORDER BY throttled_attempts DESC, network LIMIT ${options.limit + 1}`
  return rows.map((r) => ({
    network: r.network, episodes: r.episodes, throttled_attempts: r.throttled_attempts, reasons: r.reasons,
    first_throttled_at: r.first_at.toISOString(), last_throttled_at: r.last_at.toISOString(),
  }))
}

function windowClause(sql: Sql, scope: TenantScope, options: { from: Date; to: Date }, alias?: string) {
  const col = (name: string) => sql(alias ? `${alias}.${name}` : name)
  return sql`${col('tenant_id')} = ${scope.tenantId} ${organisationClause(sql, scope, alias)}
    AND ${col('occurred_at')} >= ${options.from} AND ${col('occurred_at')} < ${options.to}`
}

/**
 * Which buckets of the incident rollups answer the window's whole hours, and which ranges the trail
 * answers: the partial hours at the ends, and any hour not folded yet (or no longer valid after a purge).
 * Read in the report's snapshot, so the rollups and the trail agree.
 */
async function planReport(sql: Sql, scope: TenantScope, options: IncidentReportOptions): Promise<WindowPlan> {
  if (options.source === 'events') return planWindow(options.from, options.to, null)
  const [folded] = await sql<{ valid_from: Date; folded_until: Date }[]>`
    SELECT valid_from, folded_until FROM incident_rollup_watermarks WHERE tenant_id = ${scope.tenantId}`
  return planWindow(options.from, options.to, folded ? { validFrom: folded.valid_from, foldedUntil: folded.folded_until } : null)
}

/**
 * The window's attempts grouped by (identifier, ip): from the trail for the plan's raw ranges and from the
 * rollups for its buckets, merged (sums, minima, maxima: exact). The full scan is one raw range.
 */
function pairsOf(sql: Sql, scope: TenantScope, plan: WindowPlan) {
  const raw = plan.raw.map((range) => sql`
    SELECT identifier, ip, max(user_id::text) AS user_id,
      count(*) FILTER (WHERE event_type = 'login_failed')::int AS failures,
      count(*) FILTER (WHERE event_type = 'login_success')::int AS successes,
      count(*) FILTER (WHERE event_type = 'account_locked')::int AS lockouts,
      min(occurred_at) FILTER (WHERE event_type = 'login_failed') AS first_failure_at,
      max(occurred_at) FILTER (WHERE event_type = 'login_failed') AS last_failure_at,
      min(occurred_at) AS first_seen_at,
      max(occurred_at) AS last_seen_at,
      min(seq) FILTER (WHERE event_type = 'login_failed') AS min_failure_seq,
      max(seq) FILTER (WHERE event_type = 'login_success') AS max_success_seq
    FROM auth_logs
    WHERE ${windowClause(sql, scope, range)} AND event_type = ANY(${ATTEMPT_TYPES}::text[])
    GROUP BY identifier, ip`)
  if (plan.buckets.length === 0) {
    return raw.length === 1 ? raw[0]! : sql`SELECT NULL::text AS identifier, NULL::text AS ip, NULL::text AS user_id, 0 AS failures, 0 AS successes,
      0 AS lockouts, NULL::timestamptz AS first_failure_at, NULL::timestamptz AS last_failure_at, NULL::timestamptz AS first_seen_at,
      NULL::timestamptz AS last_seen_at, NULL::bigint AS min_failure_seq, NULL::bigint AS max_success_seq WHERE false`
  }
  const rolled = sql`
    SELECT identifier, ip, user_id, failures, successes, lockouts, first_failure_at, last_failure_at, first_seen_at, last_seen_at,
      min_failure_seq, max_success_seq
    FROM incident_rollups r
    WHERE r.tenant_id = ${scope.tenantId} ${organisationClause(sql, scope, 'r')}
      AND (r.level, r.bucket_start) IN (
        SELECT * FROM unnest(${plan.buckets.map((b) => b.level)}::smallint[], ${plan.buckets.map((b) => b.start.toISOString())}::timestamptz[]))`
  const parts = [...raw, rolled].reduce((all, part) => sql`${all} UNION ALL ${part}`)
  return sql`
    SELECT identifier, ip, max(user_id) AS user_id, sum(failures)::int AS failures, sum(successes)::int AS successes,
      sum(lockouts)::int AS lockouts, min(first_failure_at) AS first_failure_at, max(last_failure_at) AS last_failure_at,
      min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
      min(min_failure_seq) AS min_failure_seq, max(max_success_seq) AS max_success_seq
    FROM (${parts}) AS parts
    GROUP BY identifier, ip`
}

interface ActivityRow {
  section: 'totals' | 'account_failures' | 'account_distributed' | 'ip_failures' | 'ip_spraying' | 'candidates'
  key: string | null
  user_id: string | null
  failures: number
  successes: number
  lockouts: number
  /** Distinct IPs of an account, distinct accounts of an IP; for totals, targeted accounts. */
  distinct_count: number
  /** For totals: the number of source IPs. */
  distinct_other: number
  first_at: Date | null
  last_at: Date | null
}

/**
 * Totals, both account rankings and both address rankings from one scan of the window: the attempts
 * are first grouped by (identifier, ip), which hashes instead of sorting, and "distinct IPs of an
 * account" is then the number of its pairs with failures (and vice versa), so no count(DISTINCT) sorts
 * the whole window.
 */
async function readActivity(sql: Sql, scope: TenantScope, options: IncidentReportOptions, plan: WindowPlan) {
  const n = options.limit + 1
  const rows = await sql<ActivityRow[]>`
    WITH pairs AS MATERIALIZED (${pairsOf(sql, scope, plan)}
    ), per_account AS MATERIALIZED (
      SELECT identifier AS key, max(user_id) AS user_id, sum(failures)::int AS failures, sum(successes)::int AS successes,
        sum(lockouts)::int AS lockouts, count(*) FILTER (WHERE failures > 0 AND ip IS NOT NULL)::int AS distinct_count,
        min(first_failure_at) AS first_at, max(last_failure_at) AS last_at
      FROM pairs WHERE identifier IS NOT NULL
      GROUP BY identifier HAVING sum(failures) > 0
    ), per_ip AS MATERIALIZED (
      SELECT ip AS key, NULL::text AS user_id, sum(failures)::int AS failures, sum(successes)::int AS successes,
        sum(lockouts)::int AS lockouts, count(*) FILTER (WHERE failures > 0 AND identifier IS NOT NULL)::int AS distinct_count,
        min(first_seen_at) AS first_at, max(last_seen_at) AS last_at
      FROM pairs WHERE ip IS NOT NULL
      GROUP BY ip HAVING sum(failures) > 0
    )
    SELECT 'totals' AS section, NULL AS key, NULL AS user_id, coalesce(sum(failures), 0)::int AS failures,
      coalesce(sum(successes), 0)::int AS successes, coalesce(sum(lockouts), 0)::int AS lockouts,
      (SELECT count(*) FROM per_account)::int AS distinct_count, (SELECT count(*) FROM per_ip)::int AS distinct_other,
      NULL::timestamptz AS first_at, NULL::timestamptz AS last_at
    FROM pairs
    UNION ALL
    (SELECT 'account_failures', key, user_id, failures, successes, lockouts, distinct_count, 0, first_at, last_at FROM per_account
     ORDER BY failures DESC, distinct_count DESC, key LIMIT ${n})
    UNION ALL
    (SELECT 'account_distributed', key, user_id, failures, successes, lockouts, distinct_count, 0, first_at, last_at FROM per_account
     WHERE distinct_count >= ${options.distributedMinIps} ORDER BY distinct_count DESC, failures DESC, key LIMIT ${n})
    UNION ALL
    (SELECT 'ip_failures', key, user_id, failures, successes, lockouts, distinct_count, 0, first_at, last_at FROM per_ip
     ORDER BY failures DESC, distinct_count DESC, key LIMIT ${n})
    UNION ALL
    (SELECT 'ip_spraying', key, user_id, failures, successes, lockouts, distinct_count, 0, first_at, last_at FROM per_ip
     WHERE distinct_count >= ${options.sprayMinAccounts} ORDER BY distinct_count DESC, failures DESC, key LIMIT ${n})
    UNION ALL
    (SELECT 'candidates', identifier, NULL, 0, 0, 0, 0, 0, NULL, NULL
     FROM (SELECT identifier, failures, successes, min_failure_seq,
             max(max_success_seq) OVER (PARTITION BY identifier) AS last_success_seq
           FROM pairs WHERE identifier IS NOT NULL) AS p
     GROUP BY identifier
     HAVING sum(successes) > 0
        AND coalesce(sum(failures) FILTER (WHERE min_failure_seq < last_success_seq), 0) >= ${options.minFailures})`

  // Both rankings of a kind read the same columns: key, counts, and the first and last time.
  const account = (r: ActivityRow): AccountActivity => ({
    identifier: r.key!, user_id: r.user_id,
    failures: r.failures, distinct_ips: r.distinct_count, lockouts: r.lockouts, successes: r.successes,
    first_failure_at: r.first_at!.toISOString(), last_failure_at: r.last_at!.toISOString(),
  })
  const source = (r: ActivityRow): SourceActivity => ({
    ip: r.key!,
    failures: r.failures, successes: r.successes, distinct_accounts: r.distinct_count, lockouts_triggered: r.lockouts,
    first_seen_at: r.first_at!.toISOString(), last_seen_at: r.last_at!.toISOString(),
  })
  const section = (name: ActivityRow['section']) => rows.filter((r) => r.section === name)
  const totals = section('totals')[0]!
  return {
    totals: {
      login_attempts: totals.failures + totals.successes,
      failures: totals.failures,
      successes: totals.successes,
      lockouts: totals.lockouts,
      targeted_accounts: totals.distinct_count,
      source_ips: totals.distinct_other,
    },
    accounts: { byFailures: section('account_failures').map(account), distributed: section('account_distributed').map(account) },
    sources: { byFailures: section('ip_failures').map(source), spraying: section('ip_spraying').map(source) },
    /**
     * The only accounts that can have a flagged run: a success preceded (in chain order) by at least
     * `minFailures` failures. Counted from the pairs: the failures of every pair whose first failure comes
     * before the account's last success, a bound no flagged run can exceed, so none is left out.
     */
    candidates: section('candidates').map((r) => r.key!),
  }
}

/** A lockout or its end, with the metadata its type records. */
type TimelineRow = Pick<AuthEventOf<'account_locked' | 'lockout_reset'>, 'id' | 'identifier' | 'user_id' | 'ip' | 'channel' | 'actor_id'> & { occurred_at: Date } & (
    | Pick<AuthEventOf<'account_locked'>, 'event_type' | 'reason' | 'metadata'>
    | Pick<AuthEventOf<'lockout_reset'>, 'event_type' | 'reason' | 'metadata'>
  )

async function readLockoutTimeline(sql: Sql, scope: TenantScope, options: IncidentReportOptions): Promise<LockoutTimelineEntry[]> {
  const rows = await sql<TimelineRow[]>`
    SELECT id, occurred_at, event_type, identifier, user_id, ip, channel, reason, actor_id, metadata
    FROM auth_logs
    WHERE ${windowClause(sql, scope, options)}
      AND (event_type = 'account_locked' OR (event_type = 'lockout_reset' AND reason IN ('lockout_expired', 'admin_unlock')))
    ORDER BY occurred_at, shard, seq
    LIMIT ${options.limit + 1}`
  return rows.map((r) => ({
    event_id: r.id,
    occurred_at: r.occurred_at.toISOString(),
    event_type: r.event_type,
    identifier: r.identifier,
    user_id: r.user_id,
    ip: r.ip,
    channel: r.channel,
    reason: r.reason,
    actor_id: r.actor_id,
    locked_until: r.event_type === 'account_locked' ? r.metadata.locked_until : null,
    failed_attempts: (r.event_type === 'account_locked' ? r.metadata.failed_attempts : r.metadata.previous_failed_attempts) ?? null,
    lockout_count: r.metadata.lockout_count ?? null,
  }))
}

/** A flagged run: its account, its bounds in the window (chain positions and instants) and its failures. */
interface FlaggedRun {
  identifier: string
  failures: number
  first_seq: string
  last_seq: string
  /** Instants as PostgreSQL's text (microseconds kept; a Date would cut them to milliseconds). */
  first_at: string
  last_at: string
  total_runs: number
}

interface RunRow {
  id: string
  identifier: string
  user_id: string | null
  event_type: 'login_failed' | 'login_success'
  occurred_at: Date
  ip: string | null
  user_agent: string | null
  channel: Channel
  device_id: string | null
  reason: string | null
  position: number
  run_failures: number
  failure_ips: string[]
}

/**
 * A run is an account's attempts up to and including a success, counted from its previous success in
 * the window. An identifier's attempts all live in one chain shard, so `seq` orders them exactly. Only the
 * activity's `candidates` can have a flagged run (a success after at least `minFailures` failures in chain
 * order). The first statement numbers their attempts into runs from the identifier index alone (it holds
 * `seq`, `event_type` and `organisation_id`), each account's through a lateral join, so that many
 * candidates never turn into a scan of the window, and keeps the flagged runs' bounds; the second reads the
 * rows of the runs it lists only: their failures' addresses and their last attempts. This section reads
 * the trail whatever the report's source: it lists the attempts themselves.
 */
async function readSuspiciousSuccesses(
  sql: Sql,
  scope: TenantScope,
  options: IncidentReportOptions,
  candidates: string[],
): Promise<{ successes: SuspiciousSuccess[]; total: number }> {
  if (candidates.length === 0) return { successes: [], total: 0 }
  const detail = options.failureDetailLimit ?? 100
  // Each account's runs are numbered and summed inside its own lateral subquery: a few hundred attempts
  // sorted in memory per account, rather than every candidate's attempts sorted and grouped at once.
  const flagged = await sql<FlaggedRun[]>`
    SELECT c.identifier, r.failures, r.first_seq::text, r.last_seq::text, r.first_at::text, r.last_at::text,
      count(*) OVER ()::int AS total_runs
    FROM unnest(${candidates}::text[]) AS c (identifier)
    CROSS JOIN LATERAL (
      SELECT a.run, count(*) FILTER (WHERE a.event_type = 'login_failed')::int AS failures,
        max(a.occurred_at) FILTER (WHERE a.event_type = 'login_success') AS success_at,
        min(a.seq) AS first_seq, max(a.seq) AS last_seq, min(a.occurred_at) AS first_at, max(a.occurred_at) AS last_at
      FROM (
        SELECT l.seq, l.event_type, l.occurred_at,
          count(*) FILTER (WHERE l.event_type = 'login_success')
            OVER (ORDER BY l.seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)::int AS run
        FROM auth_logs l
        WHERE ${windowClause(sql, scope, options, 'l')} AND l.identifier IS NOT NULL AND l.identifier = c.identifier AND l.event_type IN ('login_failed', 'login_success')
      ) a
      GROUP BY a.run
      HAVING count(*) FILTER (WHERE a.event_type = 'login_success') > 0 AND count(*) FILTER (WHERE a.event_type = 'login_failed') >= ${options.minFailures}
    ) r
    ORDER BY r.success_at, c.identifier, r.run
    LIMIT ${options.limit}`
  if (flagged.length === 0) return { successes: [], total: 0 }

  // A run's attempts are those of its account in the window between its first and last chain positions.
  const listed = flagged.map((f, i) => ({ position: i + 1, ...f }))
  const inRun = (alias: string) =>
    sql`${windowClause(sql, scope, options, alias)} AND ${sql(`${alias}.identifier`)} = f.identifier
      AND ${sql(`${alias}.occurred_at`)} >= f.first_at AND ${sql(`${alias}.occurred_at`)} <= f.last_at
      AND ${sql(`${alias}.seq`)} BETWEEN f.first_seq AND f.last_seq AND ${sql(`${alias}.event_type`)} IN ('login_failed', 'login_success')`
  const rows = await sql<RunRow[]>`
    SELECT l.id, l.identifier, l.user_id, l.event_type, l.occurred_at, l.ip, l.user_agent, l.channel, l.device_id, l.reason,
      f.position, f.failures AS run_failures, ips.failure_ips
    FROM jsonb_to_recordset(${sql.json(listed as never)}::jsonb)
      AS f (position int, identifier text, failures int, first_seq bigint, last_seq bigint, first_at timestamptz, last_at timestamptz)
    CROSS JOIN LATERAL (
      SELECT coalesce(array_remove(array_agg(DISTINCT r.ip) FILTER (WHERE r.event_type = 'login_failed'), NULL), '{}') AS failure_ips
      FROM auth_logs r WHERE ${inRun('r')}
    ) ips
    CROSS JOIN LATERAL (
      SELECT * FROM auth_logs l WHERE ${inRun('l')}
      ORDER BY l.seq DESC
      LIMIT ${detail + 1}
    ) l
    ORDER BY f.position, l.seq`

  const summary = (r: RunRow): AttemptSummary => ({
    event_id: r.id,
    occurred_at: r.occurred_at.toISOString(),
    ip: r.ip,
    user_agent: r.user_agent,
    channel: r.channel,
    device_id: r.device_id,
    reason: r.reason,
  })
  const successes: SuspiciousSuccess[] = []
  let failures: AttemptSummary[] = []
  let position = 0
  for (const row of rows) {
    if (row.position !== position) {
      failures = []
      position = row.position
    }
    if (row.event_type === 'login_failed') {
      failures.push(summary(row))
      continue
    }
    const failureIps = [...row.failure_ips].sort()
    successes.push({
      ...summary(row),
      identifier: row.identifier,
      user_id: row.user_id,
      preceding_failures: row.run_failures,
      failures,
      failures_truncated: failures.length < row.run_failures,
      failure_ips: failureIps,
      ip_seen_in_failures: row.ip !== null && failureIps.includes(row.ip),
    })
  }
  return { successes, total: flagged[0]!.total_runs }
}
