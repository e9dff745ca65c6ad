import type { Channel, EventMetadata } from '../core/event-types.ts'
import type { Sql } from '../db/client.ts'
import { organisationClause } from '../db/organisation-clause.ts'
import type { TenantScope } from '../core/tenancy.ts'

/** One failed attempt that counted towards a lockout. */
export interface TriggeringFailure {
  event_id: string
  seq: number
  occurred_at: string
  ip: string | null
  user_agent: string | null
  channel: Channel
  device_id: string | null
  /** The failure count in the lockout window after this attempt (1 … failed_attempts). */
  failed_attempts: number | null
}

/** How a lockout ended, if it has: expiry noticed by the next attempt, a successful login, or an admin. */
export interface LockoutEnding {
  event_id: string
  occurred_at: string
  reason: string | null
  actor_id: string | null
  channel: Channel
}

export interface LockoutDiagnosis {
  lock_event_id: string
  shard: number
  seq: number
  locked_at: string
  locked_until: string | null
  lockout_count: number | null
  lock_duration_seconds: number | null
  /** How many failures the policy counted: the length of `triggering_failures` when nothing was purged. */
  failed_attempts: number
  triggering_failures: TriggeringFailure[]
  distinct_ips: string[]
  distinct_user_agents: (string | null)[]
  /** Attempts refused as locked between this lockout and its end (or now). */
  attempts_while_locked: number
  ended_by: LockoutEnding | null
}

export interface LockoutDiagnostics {
  identifier: string
  lockouts: LockoutDiagnosis[]
}

export interface LockoutDiagnosticsOptions {
  from?: Date
  to?: Date
  /** The most recent lockouts to explain. */
  limit: number
}

interface DiagnosticRow {
  lock_id: string
  lock_shard: number
  lock_seq: number
  locked_at: Date
  lock_metadata: EventMetadata<'account_locked'>
  reset_id: string | null
  reset_at: Date | null
  reset_reason: string | null
  reset_actor_id: string | null
  reset_channel: string | null
  attempts_while_locked: number
  failure_id: string | null
  failure_seq: number | null
  failure_at: Date | null
  failure_ip: string | null
  failure_user_agent: string | null
  failure_channel: string | null
  failure_device_id: string | null
  failure_count: string | null
}


/**
 * Explains each lockout of an identifier, newest first: the failed attempts that triggered it (the last
 * `failed_attempts` invalid-credential failures before the lock, in chain order: an identifier's events
 * all live in one chain shard, so its seq order is its true order), with their IPs, user agents and
 * times; the attempts refused while it lasted; and the event that ended it.
 *
 * The failures are found through the identifier index, newest first from the lock's time and then by seq;
 * that is exact while an account's clock readings never go backwards, which holds because each attempt
 * reads the clock while holding the account's lockout row lock.
 *
 * @example
 * const { lockouts } = await getLockoutDiagnostics(sql, scope, 'alice@example.com', { limit: 20 })
 */
export async function getLockoutDiagnostics(
  sql: Sql,
  scope: TenantScope,
  identifier: string,
  options: LockoutDiagnosticsOptions,
): Promise<LockoutDiagnostics> {
  const t = scope.tenantId
  const rows = await sql<DiagnosticRow[]>`
    SELECT k.id AS lock_id, k.shard AS lock_shard, k.seq AS lock_seq, k.occurred_at AS locked_at, k.metadata AS lock_metadata,
      r.id AS reset_id, r.occurred_at AS reset_at, r.reason AS reset_reason, r.actor_id AS reset_actor_id, r.channel AS reset_channel,
      w.attempts AS attempts_while_locked,
      f.id AS failure_id, f.seq AS failure_seq, f.occurred_at AS failure_at, f.ip AS failure_ip,
      f.user_agent AS failure_user_agent, f.channel AS failure_channel, f.device_id AS failure_device_id,
      f.metadata->>'failed_attempts' AS failure_count
    FROM (
      SELECT id, shard, seq, occurred_at, metadata FROM auth_logs
      WHERE tenant_id = ${t} AND identifier = ${identifier} AND event_type = 'account_locked'
        ${organisationClause(sql, scope)}
        ${options.from ? sql`AND occurred_at >= ${options.from}` : sql``}
        ${options.to ? sql`AND occurred_at < ${options.to}` : sql``}
      ORDER BY occurred_at DESC, seq DESC
      LIMIT ${options.limit}
    ) k
    LEFT JOIN LATERAL (
      SELECT e.id, e.seq, e.occurred_at, e.reason, e.actor_id, e.channel FROM auth_logs e
      WHERE e.tenant_id = ${t} AND e.identifier = ${identifier} AND e.event_type = 'lockout_reset'
        AND e.shard = k.shard AND e.seq > k.seq AND e.occurred_at >= k.occurred_at ${organisationClause(sql, scope, 'e')}
      ORDER BY e.occurred_at, e.seq
      LIMIT 1
    ) r ON true
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS attempts FROM auth_logs e
      WHERE e.tenant_id = ${t} AND e.identifier = ${identifier} AND e.event_type = 'login_failed' AND e.reason = 'account_locked'
        AND e.shard = k.shard AND e.seq > k.seq AND e.occurred_at >= k.occurred_at
        AND e.occurred_at <= coalesce(r.occurred_at, 'infinity') AND (r.seq IS NULL OR e.seq < r.seq)
        ${organisationClause(sql, scope, 'e')}
    ) w
    LEFT JOIN LATERAL (
      SELECT e.id, e.seq, e.occurred_at, e.ip, e.user_agent, e.channel, e.device_id, e.metadata FROM auth_logs e
      WHERE e.tenant_id = ${t} AND e.identifier = ${identifier} AND e.event_type = 'login_failed' AND e.reason = 'invalid_credentials'
        AND e.shard = k.shard AND e.seq < k.seq AND e.occurred_at <= k.occurred_at ${organisationClause(sql, scope, 'e')}
      ORDER BY e.occurred_at DESC, e.seq DESC
      LIMIT greatest(0, coalesce((k.metadata->>'failed_attempts')::int, 0))
    ) f ON true
    ORDER BY k.occurred_at DESC, k.seq DESC, f.seq ASC`

  const byLock = new Map<string, LockoutDiagnosis>()
  for (const row of rows) {
    let diagnosis = byLock.get(row.lock_id)
    if (!diagnosis) {
      const m = row.lock_metadata
      diagnosis = {
        lock_event_id: row.lock_id,
        shard: row.lock_shard,
        seq: row.lock_seq,
        locked_at: row.locked_at.toISOString(),
        locked_until: m.locked_until ?? null,
        lockout_count: m.lockout_count ?? null,
        lock_duration_seconds: m.lock_duration_seconds ?? null,
        failed_attempts: m.failed_attempts ?? 0,
        triggering_failures: [],
        distinct_ips: [],
        distinct_user_agents: [],
        attempts_while_locked: row.attempts_while_locked,
        ended_by: row.reset_id
          ? { event_id: row.reset_id, occurred_at: row.reset_at!.toISOString(), reason: row.reset_reason, actor_id: row.reset_actor_id, channel: row.reset_channel as Channel }
          : null,
      }
      byLock.set(row.lock_id, diagnosis)
    }
    if (row.failure_id) {
      diagnosis.triggering_failures.push({
        event_id: row.failure_id,
        seq: row.failure_seq!,
        occurred_at: row.failure_at!.toISOString(),
        ip: row.failure_ip,
        user_agent: row.failure_user_agent,
        channel: row.failure_channel as Channel,
        device_id: row.failure_device_id,
        failed_attempts: row.failure_count === null ? null : Number(row.failure_count),
      })
    }
  }
  for (const d of byLock.values()) {
    d.distinct_ips = [...new Set(d.triggering_failures.map((f) => f.ip).filter((ip): ip is string => ip !== null))].sort()
    d.distinct_user_agents = [...new Set(d.triggering_failures.map((f) => f.user_agent))]
  }
  return { identifier, lockouts: [...byLock.values()] }
}
