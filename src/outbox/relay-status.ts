import type { Sql } from '../db/client.ts'

/** Delivery state of one sink, as stored in PostgreSQL (shared by every relay instance). */
export interface SinkStatus {
  sink: string
  /** Events in the outbox this sink has not passed yet. */
  undelivered: number
  /** Age in seconds of the oldest of them (0 when none): the sink's lag. */
  lagSeconds: number
  /** Dead letters not re-driven yet. */
  deadLetters: number
  /** Chains currently backing off after a failure. */
  retryingChains: number
  /** The latest error of a chain still backing off (null when none is), and when it was recorded. */
  lastError: string | null
  lastErrorAt: string | null
}

export interface RelayStatusFilter {
  /** Only this tenant's events and dead letters. */
  tenantId?: string
  /** The sinks to report; by default every sink that has a cursor or a dead letter. */
  sinks?: readonly string[]
  /** The time lag is measured at; by default the database's clock. */
  now?: Date
}

/**
 * Lag, backlog and dead letters per sink, computed from the outbox and the cursors. A chain that has no
 * cursor for a sink yet counts as entirely undelivered for it.
 *
 * @example
 * const [docstore] = await getRelayStatus(sql, { sinks: ['docstore'] })
 * if (docstore.lagSeconds > 60) alert()
 */
export async function getRelayStatus(sql: Sql, filter: RelayStatusFilter = {}): Promise<SinkStatus[]> {
  const tenant = filter.tenantId
  const sinks =
    filter.sinks ??
    (
      await sql<{ sink: string }[]>`
        SELECT sink FROM outbox_cursors UNION SELECT sink FROM outbox_dead_letters ORDER BY sink`
    ).map((r) => r.sink)
  if (sinks.length === 0) return []
  const tenantOnly = (column: string) => (tenant === undefined ? sql`TRUE` : sql`${sql(column)} = ${tenant}`)
  const rows = await sql<{ sink: string; undelivered: number; lag_seconds: number; dead_letters: number; retrying_chains: number; last_error: string | null; last_error_at: Date | null }[]>`
    SELECT s.sink, backlog.undelivered, backlog.lag_seconds,
      (SELECT count(*)::int FROM outbox_dead_letters d
        WHERE d.sink = s.sink AND d.redriven_at IS NULL AND ${tenantOnly('d.tenant_id')}) AS dead_letters,
      (SELECT count(*)::int FROM outbox_cursors c
        WHERE c.sink = s.sink AND c.attempts > 0 AND ${tenantOnly('c.tenant_id')}) AS retrying_chains,
      failing.last_error, failing.last_error_at
    FROM unnest(${sql.array([...sinks])}::text[]) WITH ORDINALITY AS s(sink, position)
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS undelivered,
        coalesce(extract(epoch FROM coalesce(${filter.now ?? null}::timestamptz, clock_timestamp()) - min(o.created_at)), 0)::float8 AS lag_seconds
      FROM outbox o
      LEFT JOIN outbox_cursors c ON c.sink = s.sink AND c.tenant_id = o.tenant_id AND c.shard = o.shard
      WHERE o.seq > coalesce(c.delivered_seq, 0) AND ${tenantOnly('o.tenant_id')}
    ) backlog
    LEFT JOIN LATERAL (
      SELECT c.last_error, c.updated_at AS last_error_at FROM outbox_cursors c
      WHERE c.sink = s.sink AND c.attempts > 0 AND c.last_error IS NOT NULL AND ${tenantOnly('c.tenant_id')}
      ORDER BY c.updated_at DESC LIMIT 1
    ) failing ON TRUE
    ORDER BY s.position`
  return rows.map((r) => ({
    sink: r.sink,
    undelivered: r.undelivered,
    lagSeconds: Math.max(0, Math.round(r.lag_seconds * 1000) / 1000),
    deadLetters: r.dead_letters,
    retryingChains: r.retrying_chains,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at?.toISOString() ?? null,
  }))
}
