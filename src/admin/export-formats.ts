import { chainedFromRow, type AuthLogRow } from '../audit/stored-event.ts'
import type { ChainedEvent, EventField } from '../core/auth-event.ts'
import { formatCef, type CefDevice } from '../core/cef.ts'
import { SERVICE_VERSION } from '../version.ts'

export const EXPORT_FORMATS = ['ndjson', 'csv', 'cef'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** How each format is served. */
export const EXPORT_MEDIA = {
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  csv: { contentType: 'text/csv; charset=utf-8; header=present', extension: 'csv' },
  cef: { contentType: 'text/plain; charset=utf-8', extension: 'cef' },
} as const satisfies Record<ExportFormat, { contentType: string; extension: string }>

export const DEFAULT_CEF_DEVICE: CefDevice = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: SERVICE_VERSION }

/**
 * The CSV columns in the export's order: every field of the event definition (risk as score and
 * signals), then the digests and the links. Values are taken from the event by name; the few columns
 * that are not an event field say how to compute them in CSV_COMPUTED.
 */
const CSV_COLUMNS = [
  'id', 'occurred_at', 'tenant_id', 'organisation_id', 'shard', 'seq', 'event_type', 'channel', 'outcome', 'reason',
  'user_id', 'identifier', 'ip', 'user_agent', 'device_id', 'risk_score', 'risk_signals', 'token_jti', 'actor_id',
  'expires_at', 'metadata', 'digest_sha256', 'digest_sha512', 'digest_sha3_256', 'prev_hash', 'chain_hash',
] as const

type Cell = string | number | null
const CSV_COMPUTED = {
  risk_score: (e) => e.risk.score,
  risk_signals: (e) => e.risk.signals.join(' '),
  metadata: (e) => JSON.stringify(e.metadata),
  digest_sha256: (e) => e.digests.sha256,
  digest_sha512: (e) => e.digests.sha512,
  digest_sha3_256: (e) => e.digests.sha3_256,
} satisfies Partial<Record<(typeof CSV_COLUMNS)[number], (event: ChainedEvent) => Cell>>

type PlainColumn = Exclude<(typeof CSV_COLUMNS)[number], keyof typeof CSV_COMPUTED>
// Every field of the event definition is exported: a field added to it and not here fails to compile.
type Unexported = Exclude<EventField, PlainColumn | 'risk' | 'metadata'>
const everyFieldExported: [Unexported] extends [never] ? true : Unexported = true
void everyFieldExported

function csvLine(event: ChainedEvent): string {
  const cells = CSV_COLUMNS.map((column) =>
    column in CSV_COMPUTED ? CSV_COMPUTED[column as keyof typeof CSV_COMPUTED](event) : (event[column as PlainColumn] as Cell),
  )
  return `${cells.map(csvCell).join(',')}\r\n`
}

/**
 * One CSV cell (RFC 4180). A cell a spreadsheet would evaluate as a formula (=, +, -, @, tab, CR first)
 * is prefixed with an apostrophe (OWASP CSV injection): identifiers and user agents come from attackers.
 * NDJSON and CEF carry the exact values.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** The first bytes of an export, before any event. */
export function exportPreamble(format: ExportFormat): string {
  return format === 'csv' ? `${CSV_COLUMNS.join(',')}\r\n` : ''
}

/**
 * One event as one line of the format. NDJSON is the chained event exactly as replicated (digests and
 * links included, so a recipient can re-verify the chain); CEF is formatCef's line.
 */
export function formatExportLine(row: AuthLogRow, format: ExportFormat, cefDevice: CefDevice = DEFAULT_CEF_DEVICE): string {
  const event = chainedFromRow(row)
  switch (format) {
    case 'ndjson':
      return `${JSON.stringify(event)}\n`
    case 'cef':
      return `${formatCef({ event, lockout: null }, cefDevice)}\n`
    case 'csv':
      return csvLine(event)
  }
}
