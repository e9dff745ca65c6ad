import type { Channel } from '../core/event-types.ts'
import type { Sql } from '../db/client.ts'
import { organisationClause } from '../db/organisation-clause.ts'
import type { TenantScope } from '../core/tenancy.ts'

/** Bucket widths the dashboard offers, in seconds. */
export const VOLUME_INTERVALS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '6h': 21_600, '1d': 86_400 } as const
export type VolumeInterval = keyof typeof VOLUME_INTERVALS

/** At most this many buckets per request: a year of hours, not a year of minutes. */
export const MAX_VOLUME_BUCKETS = 10_000

export interface VolumeBucket {
  start: string
  /** login_failed + login_success */
  login_attempts: number
  failures: number
  successes: number
  /** failures / login_attempts, null for a bucket without attempts. */
  failure_rate: number | null
  lockouts: number
  /** Every event type, administrative ones included. */
  events: number
  distinct_source_ips: number
}

export interface EventVolumes {
  from: string
  to: string
  interval_seconds: number
  buckets: VolumeBucket[]
}

export interface EventVolumeOptions {
  /** Inclusive; also the origin buckets are aligned to. */
  from: Date
  /** Exclusive. */
  to: Date
  intervalSeconds: number
  channel?: Channel
}

/** The window does not fit in MAX_VOLUME_BUCKETS buckets of the interval. */
export class TooManyBucketsError extends Error {
  constructor(readonly buckets: number) {
    super(`the window needs ${buckets} buckets; at most ${MAX_VOLUME_BUCKETS} are allowed`)
  }
}

interface BucketRow {
  bucket: Date
  login_attempts: number
  failures: number
  successes: number
  lockouts: number
  events: number
  distinct_source_ips: number
}

/**
 * Event volumes and failure rates per interval for the dashboard, every bucket present (empty ones as
 * zeros) so that a chart needs no gap filling. Buckets are aligned to `from`. Scoped in SQL.
 *
 * @example
 * const { buckets } = await queryEventVolumes(sql, scope, { from, to, intervalSeconds: VOLUME_INTERVALS['5m'] })
 */
export async function queryEventVolumes(sql: Sql, scope: TenantScope, options: EventVolumeOptions): Promise<EventVolumes> {
  const step = options.intervalSeconds * 1000
  const span = options.to.getTime() - options.from.getTime()
  const count = Math.max(0, Math.ceil(span / step))
  if (count > MAX_VOLUME_BUCKETS) throw new TooManyBucketsError(count)
  const rows = await sql<BucketRow[]>`
    SELECT date_bin(${`${options.intervalSeconds} seconds`}::interval, occurred_at, ${options.from}::timestamptz) AS bucket,
      count(*) FILTER (WHERE event_type IN ('login_failed', 'login_success'))::int AS login_attempts,
      count(*) FILTER (WHERE event_type = 'login_failed')::int AS failures,
      count(*) FILTER (WHERE event_type = 'login_success')::int AS successes,
      count(*) FILTER (WHERE event_type = 'account_locked')::int AS lockouts,
      count(*)::int AS events,
      count(DISTINCT ip) FILTER (WHERE event_type IN ('login_failed', 'login_success'))::int AS distinct_source_ips
    FROM auth_logs
    WHERE tenant_id = ${scope.tenantId} ${organisationClause(sql, scope)}
      AND occurred_at >= ${options.from} AND occurred_at < ${options.to}
      ${options.channel ? sql`AND channel = ${options.channel}` : sql``}
    GROUP BY bucket`
  const byStart = new Map(rows.map((r) => [r.bucket.getTime(), r]))
  const buckets: VolumeBucket[] = []
  for (let i = 0; i < count; i++) {
    const start = options.from.getTime() + i * step
    const r = byStart.get(start)
    buckets.push({
      start: new Date(start).toISOString(),
      login_attempts: r?.login_attempts ?? 0,
      failures: r?.failures ?? 0,
      successes: r?.successes ?? 0,
      failure_rate: r && r.login_attempts > 0 ? r.failures / r.login_attempts : null,
      lockouts: r?.lockouts ?? 0,
      events: r?.events ?? 0,
      distinct_source_ips: r?.distinct_source_ips ?? 0,
    })
  }
  return { from: options.from.toISOString(), to: options.to.toISOString(), interval_seconds: options.intervalSeconds, buckets }
}
