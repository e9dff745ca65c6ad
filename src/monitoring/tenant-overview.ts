import type { Channel, EventType, Outcome } from '../core/event-types.ts'
import type { TenantScope } from '../core/tenancy.ts'
import type { Sql } from '../db/client.ts'
import { listLockedInScope } from '../db/lockouts.ts'
import { organisationClause } from '../db/organisation-clause.ts'
import { findTenantById } from '../db/tenants.ts'
import { getRelayStatus, type SinkStatus } from '../outbox/relay-status.ts'
import { readLastVerification } from '../audit/chain-verifications.ts'

/** The overview covers the last hour in one-minute buckets, the current (partial) minute last. */
export const OVERVIEW_MINUTES = 60
const MINUTE_MS = 60_000
/** Locked accounts and recent attempts listed (the count of locked accounts is always complete). */
export const OVERVIEW_LIST_LIMIT = 20

/** The event types the live view lists and counts: attempts and what they did to an account. */
const WATCHED_TYPES = ['login_failed', 'login_success', 'account_locked', 'lockout_reset'] as const satisfies readonly EventType[]

export interface MinuteVolume {
  start: string
  /** login_failed + login_success, refused requests included (as the volumes route counts them). */
  attempts: number
  failures: number
  successes: number
  /** failures / attempts; null for a minute without attempts. */
  failure_rate: number | null
  lockouts: number
}

export interface ChannelLogins {
  channel: Extract<Channel, 'web' | 'mobile'>
  attempts: number
  failures: number
  successes: number
}

export interface RecentEvent {
  event_id: string
  occurred_at: string
  event_type: (typeof WATCHED_TYPES)[number]
  outcome: Outcome
  reason: string | null
  identifier: string | null
  ip: string | null
  channel: Channel
}

export interface LockedAccount {
  identifier: string
  user_id: string | null
  locked_until: string
  lockout_count: number
  last_locked_at: string | null
}

/** What a security team watches during an attack, for one tenant (and organisation) at one instant. */
export interface TenantOverview {
  as_of: string
  tenant: { slug: string; name: string; retention_days: number; can_download: boolean }
  window: { from: string; to: string }
  totals: { attempts: number; failures: number; successes: number; failure_rate: number | null; lockouts: number }
  minutes: MinuteVolume[]
  channels: ChannelLogins[]
  locked_accounts: { count: number; accounts: LockedAccount[] }
  recent_events: RecentEvent[]
  relay: { sinks: SinkStatus[] }
  /**
   * The tenant's hash chains: how many, and how many events they hold (the sum of their heads); the newest
   * signed checkpoint of any of them; and the last recorded verification (GET /v1/audit/verify, the command).
   */
  chain: {
    shards: number
    events: number
    last_checkpoint: { signed_at: string; key_id: string; shard: number; seq: number } | null
    last_verification: {
      verified_at: string
      ok: boolean
      verified_events: number
      first_break: { shard: number; seq: number; reason: string; anchor?: string } | null
      signatures_checked: boolean
      via: 'api' | 'command'
      verified_by: { user_id: string; identifier: string | null } | null
      duration_ms: number
    } | null
  }
}

export interface OverviewDeps {
  sql: Sql
  /** The sinks this process's relay delivers to; without any, every sink that has a cursor. */
  sinks?: readonly string[]
}

const rate = (failures: number, attempts: number) => (attempts > 0 ? failures / attempts : null)

/**
 * The live overview of a tenant as its scope sees it: attempts and failure rate per minute over the last
 * hour, logins per channel, accounts locked now, the latest attempts, the relay's health per sink and the
 * size of the chains. Events and lockouts are scoped to the organisation in SQL, like the investigation
 * API; relay and chain figures are the tenant's, like the outbox and verification routes.
 *
 * @example
 * const overview = await readTenantOverview({ sql }, { tenantId, organisationId }, new Date())
 */
export async function readTenantOverview(deps: OverviewDeps, scope: TenantScope, now: Date): Promise<TenantOverview | null> {
  const { sql } = deps
  const to = new Date(Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS)
  const from = new Date(to.getTime() - OVERVIEW_MINUTES * MINUTE_MS)
  const [tenant, buckets, recent, locked, relay, heads, checkpoints, verification] = await Promise.all([
    findTenantById(sql, scope.tenantId),
    sql<{ minute: Date; channel: Channel; failures: number; successes: number; lockouts: number }[]>`
      SELECT date_bin('60 seconds'::interval, occurred_at, ${from}::timestamptz) AS minute, channel,
        count(*) FILTER (WHERE event_type = 'login_failed')::int AS failures,
        count(*) FILTER (WHERE event_type = 'login_success')::int AS successes,
        count(*) FILTER (WHERE event_type = 'account_locked')::int AS lockouts
      FROM auth_logs
      WHERE tenant_id = ${scope.tenantId} ${organisationClause(sql, scope)}
        AND occurred_at >= ${from} AND occurred_at < ${to}
        AND event_type IN ('login_failed', 'login_success', 'account_locked')
      GROUP BY minute, channel`,
    sql<(Omit<RecentEvent, 'occurred_at'> & { occurred_at: Date })[]>`
      SELECT id AS event_id, occurred_at, event_type, outcome, reason, identifier, ip, channel
      FROM auth_logs
      WHERE tenant_id = ${scope.tenantId} ${organisationClause(sql, scope)}
        AND event_type IN ${sql(WATCHED_TYPES)} AND occurred_at < ${to}
      ORDER BY occurred_at DESC, id DESC
      LIMIT ${OVERVIEW_LIST_LIMIT}`,
    listLockedInScope(sql, scope, now, OVERVIEW_LIST_LIMIT),
    getRelayStatus(sql, { tenantId: scope.tenantId, sinks: deps.sinks && deps.sinks.length > 0 ? deps.sinks : undefined }),
    sql<{ shards: number; events: string }[]>`
      SELECT count(*)::int AS shards, coalesce(sum(seq), 0)::text AS events FROM chain_heads WHERE tenant_id = ${scope.tenantId}`,
    sql<{ signed_at: Date; key_id: string; shard: number; seq: string }[]>`
      SELECT signed_at, key_id, shard, seq::text FROM signed_checkpoints
      WHERE tenant_id = ${scope.tenantId} ORDER BY signed_at DESC, shard DESC LIMIT 1`,
    readLastVerification(sql, scope.tenantId),
  ])
  if (!tenant) return null

  const minutes: MinuteVolume[] = Array.from({ length: OVERVIEW_MINUTES }, (_, i) => ({
    start: new Date(from.getTime() + i * MINUTE_MS).toISOString(),
    attempts: 0,
    failures: 0,
    successes: 0,
    failure_rate: null,
    lockouts: 0,
  }))
  const channels: ChannelLogins[] = (['web', 'mobile'] as const).map((channel) => ({ channel, attempts: 0, failures: 0, successes: 0 }))
  for (const b of buckets) {
    const minute = minutes[Math.round((b.minute.getTime() - from.getTime()) / MINUTE_MS)]
    if (minute) {
      minute.failures += b.failures
      minute.successes += b.successes
      minute.attempts += b.failures + b.successes
      minute.lockouts += b.lockouts
    }
    const channel = channels.find((c) => c.channel === b.channel)
    if (channel) {
      channel.failures += b.failures
      channel.successes += b.successes
      channel.attempts += b.failures + b.successes
    }
  }
  for (const minute of minutes) minute.failure_rate = rate(minute.failures, minute.attempts)
  const sum = (pick: (m: MinuteVolume) => number) => minutes.reduce((total, m) => total + pick(m), 0)
  const totals = { attempts: sum((m) => m.attempts), failures: sum((m) => m.failures), successes: sum((m) => m.successes), lockouts: sum((m) => m.lockouts) }

  return {
    as_of: now.toISOString(),
    tenant: { slug: tenant.slug, name: tenant.name, retention_days: tenant.retentionDays, can_download: tenant.canDownload },
    window: { from: from.toISOString(), to: to.toISOString() },
    totals: { ...totals, failure_rate: rate(totals.failures, totals.attempts) },
    minutes,
    channels,
    locked_accounts: {
      count: locked.count,
      accounts: locked.accounts.map((a) => ({
        identifier: a.identifier,
        user_id: a.user_id,
        locked_until: a.account_locked_until.toISOString(),
        lockout_count: a.lockout_count,
        last_locked_at: a.last_locked_at?.toISOString() ?? null,
      })),
    },
    recent_events: recent.map((e) => ({ ...e, occurred_at: e.occurred_at.toISOString() })),
    relay: { sinks: relay },
    chain: {
      shards: heads[0]?.shards ?? 0,
      events: Number(heads[0]?.events ?? 0),
      last_checkpoint: checkpoints[0]
        ? { signed_at: checkpoints[0].signed_at.toISOString(), key_id: checkpoints[0].key_id, shard: checkpoints[0].shard, seq: Number(checkpoints[0].seq) }
        : null,
      last_verification: verification && {
        verified_at: verification.verifiedAt.toISOString(),
        ok: verification.ok,
        verified_events: verification.verifiedEvents,
        first_break: verification.firstBreak,
        signatures_checked: verification.signaturesChecked,
        via: verification.via,
        verified_by: verification.verifiedBy && { user_id: verification.verifiedBy.userId, identifier: verification.verifiedBy.identifier },
        duration_ms: verification.durationMs,
      },
    },
  }
}

/**
 * A value that changes whenever the tenant's trail does, or its chains are verified: the sum of its chain
 * heads (read from the heads' primary key, a handful of rows) and the time of its last verification (one
 * index entry). The feed polls it to know when an overview is worth recomputing.
 */
export async function readTrailVersion(sql: Sql, tenantId: string): Promise<string> {
  const [row] = await sql<{ version: string }[]>`
    SELECT coalesce(sum(seq), 0)::text || '/' || coalesce((
      SELECT extract(epoch FROM verified_at)::text FROM chain_verifications WHERE tenant_id = ${tenantId} ORDER BY verified_at DESC LIMIT 1
    ), '-') AS version
    FROM chain_heads WHERE tenant_id = ${tenantId}`
  return row?.version ?? '0'
}
