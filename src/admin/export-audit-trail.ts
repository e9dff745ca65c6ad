import { recordEvents } from '../audit/record-events.ts'
import { AUTH_LOG_COLUMNS, type AuthLogRow } from '../audit/stored-event.ts'
import type { CefDevice } from '../core/cef.ts'
import type { Sql } from '../db/client.ts'
import type { Tenant } from '../db/tenants.ts'
import { organisationClause } from '../db/organisation-clause.ts'
import type { TenantScope } from '../core/tenancy.ts'
import type { AdminActor } from './admin-actor.ts'
import { DEFAULT_CEF_DEVICE, EXPORT_MEDIA, exportPreamble, formatExportLine, type ExportFormat } from './export-formats.ts'

export interface ExportDeps {
  sql: Sql
  clock: () => Date
  cefDevice?: CefDevice
  /** Rows fetched per cursor round trip: the export's memory bound. */
  batchSize?: number
}

export interface ExportRequest {
  tenant: Tenant
  scope: TenantScope
  format: ExportFormat
  /** Inclusive; omitted means from the oldest retained event. */
  from?: Date
  /** Exclusive; omitted means up to the moment the export starts. */
  to?: Date
  actor: AdminActor
}

export type ExportResult =
  | { kind: 'download_not_allowed'; eventId: string }
  | {
      kind: 'streaming'
      eventId: string
      body: ReadableStream<Uint8Array>
      /** `from`, else when the first exported event happened; null when there is none. */
      from: Date | null
      fileName: string
    }

/** The rows of `auth_logs` an export of `range` holds, as a WHERE clause: scoped to the tenant and organisation in SQL. */
function exportedRows(sql: Sql, scope: TenantScope, range: { from?: Date; to: Date }) {
  return sql`
    WHERE tenant_id = ${scope.tenantId} ${organisationClause(sql, scope)}
      ${range.from ? sql`AND occurred_at >= ${range.from}` : sql``}
      AND occurred_at < ${range.to}`
}

/** How many events an export of `range` holds (a command's progress). */
export async function countExportedEvents(sql: Sql, scope: TenantScope, range: { from?: Date; to: Date }): Promise<number> {
  const [row] = await sql<{ events: number }[]>`SELECT count(*)::int8 AS events FROM auth_logs ${exportedRows(sql, scope, range)}`
  return Number(row?.events ?? 0)
}

/** `authtrail-<slug>-<start>.<ext>`, the start being `from`, else the first event, else the end. */
export function exportFileName(tenantSlug: string, format: ExportFormat, start: Date): string {
  return `authtrail-${tenantSlug}-${start.toISOString().replaceAll(':', '')}.${EXPORT_MEDIA[format].extension}`
}

/**
 * Exports a tenant's events in a time range. The plan's `can_download` is checked here, whoever calls;
 * a refused export is audited as a failed `audit_exported`. An allowed one is audited (with its range
 * and format) and committed before the first byte leaves, then streamed from a server-side cursor in
 * batches, so memory stays constant whatever the size. Scoped to the tenant and organisation in SQL.
 *
 * @example
 * const result = await exportAuditTrail({ sql, clock }, { tenant, scope, format: 'ndjson', actor })
 * if (result.kind === 'streaming') return new Response(result.body)
 */
export async function exportAuditTrail(deps: ExportDeps, request: ExportRequest): Promise<ExportResult> {
  const { tenant, actor } = request
  const now = deps.clock()
  const to = request.to ?? now
  const allowed = tenant.canDownload
  const [event] = await deps.sql.begin((tx) =>
    recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'audit_exported',
          outcome: allowed ? 'success' : 'failure',
          reason: allowed ? null : 'download_not_allowed',
          origin: actor.origin,
          organisationId: actor.organisationId,
          actorId: actor.userId,
          metadata: { format: request.format, from: request.from?.toISOString() ?? null, to: to.toISOString(), organisation_scope: request.scope.organisationId },
        },
      ],
      { now },
    ),
  )
  if (!allowed) return { kind: 'download_not_allowed', eventId: event!.id }
  // Named after the first event it holds, not the start of time, when `from` is left out.
  const from = request.from ?? (await firstEventAt(deps.sql, request.scope, { to }))
  return {
    kind: 'streaming',
    eventId: event!.id,
    from,
    fileName: exportFileName(tenant.slug, request.format, from ?? to),
    body: streamEvents(deps, request.scope, { from: request.from, to }, request.format),
  }
}

/**
 * The events of a range in time order as a byte stream, pulled from a PostgreSQL cursor one batch per
 * read: nothing is fetched before the consumer asks, and cancelling the stream closes the cursor and
 * releases its connection.
 */
/** When the first event of `range` happened (the occurred_at index's first entry), null when there is none. */
async function firstEventAt(sql: Sql, scope: TenantScope, range: { from?: Date; to: Date }): Promise<Date | null> {
  const [row] = await sql<{ first: Date | null }[]>`SELECT min(occurred_at) AS first FROM auth_logs ${exportedRows(sql, scope, range)}`
  return row?.first ?? null
}

export function streamEvents(
  deps: Pick<ExportDeps, 'sql' | 'cefDevice' | 'batchSize'>,
  scope: TenantScope,
  range: { from?: Date; to: Date },
  format: ExportFormat,
): ReadableStream<Uint8Array> {
  const { sql } = deps
  const encoder = new TextEncoder()
  const device = deps.cefDevice ?? DEFAULT_CEF_DEVICE
  let batches: AsyncIterator<AuthLogRow[]> | null = null
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const preamble = exportPreamble(format)
        if (preamble) controller.enqueue(encoder.encode(preamble))
      },
      async pull(controller) {
        batches ??= sql<AuthLogRow[]>`
          SELECT ${sql(AUTH_LOG_COLUMNS)} FROM auth_logs ${exportedRows(sql, scope, range)}
          ORDER BY occurred_at, id`
          .cursor(deps.batchSize ?? 500)
          [Symbol.asyncIterator]()
        try {
          const { value, done } = await batches.next()
          if (done) {
            controller.close()
            return
          }
          controller.enqueue(encoder.encode(value.map((row) => formatExportLine(row, format, device)).join('')))
        } catch (error) {
          controller.error(error)
        }
      },
      async cancel() {
        await batches?.return?.()
      },
    },
    { highWaterMark: 0 },
  )
}
