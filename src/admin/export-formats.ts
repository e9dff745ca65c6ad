import type { AuthLogRow } from '../audit/stored-event.ts'
import { chainedFromRow } from '../audit/stored-event.ts'
import { formatCef, type CefDevice } from '../core/cef.ts'

export const EXPORT_FORMATS = ['ndjson', 'csv', 'cef'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** How each format is served. */
export const EXPORT_MEDIA = {
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  csv: { contentType: 'text/csv; charset=utf-8; header=present', extension: 'csv' },
  cef: { contentType: 'text/plain; charset=utf-8', extension: 'cef' },
} as const satisfies Record<ExportFormat, { contentType: string; extension: string }>

export const DEFAULT_CEF_DEVICE: CefDevice = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }

const CSV_COLUMNS = [
  'id', 'occurred_at', 'tenant_id', 'organisation_id', 'shard', 'seq', 'event_type', 'channel', 'outcome', 'reason',
  'user_id', 'identifier', 'ip', 'user_agent', 'device_id', 'risk_score', 'risk_signals', 'token_jti', 'actor_id',
  'expires_at', 'metadata', 'digest_sha256', 'digest_sha512', 'digest_sha3_256', 'prev_hash', 'chain_hash',
] as const

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
    case 'csv': {
      const cells: Record<(typeof CSV_COLUMNS)[number], string | number | null> = {
        id: event.id,
        occurred_at: event.occurred_at,
        tenant_id: event.tenant_id,
        organisation_id: event.organisation_id,
        shard: event.shard,
        seq: event.seq,
        event_type: event.event_type,
        channel: event.channel,
        outcome: event.outcome,
        reason: event.reason,
        user_id: event.user_id,
        identifier: event.identifier,
        ip: event.ip,
        user_agent: event.user_agent,
        device_id: event.device_id,
        risk_score: event.risk.score,
        risk_signals: event.risk.signals.join(' '),
        token_jti: event.token_jti,
        actor_id: event.actor_id,
        expires_at: event.expires_at,
        metadata: JSON.stringify(event.metadata),
        digest_sha256: event.digests.sha256,
        digest_sha512: event.digests.sha512,
        digest_sha3_256: event.digests.sha3_256,
        prev_hash: event.prev_hash,
        chain_hash: event.chain_hash,
      }
      return `${CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',')}\r\n`
    }
  }
}
