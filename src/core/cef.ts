import type { OutboxPayload } from './auth-event.ts'
import { formatCheckpointToken } from './checkpoint.ts'
import { EVENT_CATEGORY, mapEventTypes, type EventType } from './event-types.ts'

/**
 * CEF v0 formatting of audit events for SIEMs (RFC 5424 around it: syslog-5424.ts; octet counting:
 * octet-framing.ts; cutting to a datagram: datagram-truncation.ts). Pure: no I/O, no runtime imports, so
 * every transport (and every runtime) sends the very same bytes, and a redelivered event is byte-identical.
 * The extension keys are defined once, in CEF_FIELDS, from which both the lines and the field
 * dictionary for SIEM operators (docs/cef.md) are produced.
 */

/** The device fields of the CEF header (who produced the event), and the host it runs on (`dvchost`). */
export interface CefDevice {
  deviceVendor: string
  deviceProduct: string
  deviceVersion: string
  /** `dvchost`: the host name the syslog header carries; left out when absent. */
  deviceHost?: string
}

/** CEF severity (0–10) and human-readable `Name` per event type, from the event catalog (see event-catalog.ts). */
export const CEF_SEVERITY: Record<EventType, number> = mapEventTypes((definition) => definition.cef.severity)
export const CEF_EVENT_NAME: Record<EventType, string> = mapEventTypes((definition) => definition.cef.name)

/**
 * Maximum lengths from the ArcSight CEF dictionary, in characters. We count Unicode code points, the
 * closest reading of "characters" that can never split a UTF-8 sequence or a surrogate pair.
 */
const HEADER_LIMIT = { deviceVendor: 63, deviceProduct: 63, deviceVersion: 31, signatureId: 1023, name: 512 } as const
const CUSTOM_STRING_LIMIT = 4000
const LABEL_LIMIT = 1023

/** Appended to a value cut to its key's limit (and counted in it): a SIEM rule can tell a cut value from a whole one. */
export const CEF_TRUNCATION_MARKER = '…'

/**
 * Cuts `value` to at most `maxChars` code points. Cutting happens before escaping, so it can never land
 * inside an escape sequence; counting code points means it never splits a surrogate pair either.
 */
export function truncateToCodePoints(value: string, maxChars: number): string {
  // A string's UTF-16 length is an upper bound of its code point count: most values skip the slow path.
  if (value.length <= maxChars) return value
  let out = ''
  let count = 0
  for (const ch of value) {
    if (count === maxChars) break
    out += ch
    count++
  }
  return out
}

/** Cuts `value` to `maxChars` code points with the truncation marker as its last one, when it is longer. */
export function truncateWithMarker(value: string, maxChars: number): string {
  const cut = truncateToCodePoints(value, maxChars)
  if (cut === value || cut.length === value.length) return value
  return truncateToCodePoints(cut, maxChars - 1) + CEF_TRUNCATION_MARKER
}

/**
 * Control characters other than CR and LF have no CEF escape, and receivers rewrite them (rsyslog turns
 * ESC into `#033` by default). They are sent as their Unicode Control Pictures instead (U+2400–U+241F,
 * DEL as U+2421): visible, unambiguous, and left alone by every receiver. The stored event keeps the
 * original characters.
 */
export function pictureControlCharacters(value: string): string {
  if (!CONTROL.test(value)) return value
  return value.replace(CONTROL_ALL, (c) => (c === '\x7f' ? '\u2421' : String.fromCharCode(0x2400 + c.charCodeAt(0))))
}
const CONTROL = /[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]/
const CONTROL_ALL = /[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]/g

/** Escapes a CEF header field: backslash and pipe; CR and LF are not allowed and become spaces; other controls are pictured. */
export function escapeCefHeader(value: string): string {
  const pictured = pictureControlCharacters(value)
  // Most values need no escaping; testing first skips the replace and its allocation.
  if (!HEADER_SPECIAL.test(pictured)) return pictured
  return pictured.replace(/[\\|\r\n]/g, (c) => (c === '\r' || c === '\n' ? ' ' : `\\${c}`))
}
const HEADER_SPECIAL = /[\\|\r\n]/

const EXTENSION_ESCAPES: Record<string, string> = { '\\': '\\\\', '=': '\\=', '\n': '\\n', '\r': '\\r' }

/** Escapes a CEF extension value: backslash, equals, CR/LF as `\r`/`\n`; other controls are pictured. Pipes stay literal. */
export function escapeCefExtensionValue(value: string): string {
  const pictured = pictureControlCharacters(value)
  if (!EXTENSION_SPECIAL.test(pictured)) return pictured
  return pictured.replace(/[\\=\r\n]/g, (c) => EXTENSION_ESCAPES[c]!)
}
const EXTENSION_SPECIAL = /[\\=\r\n]/

/**
 * What a strict CEF parser reads back for a value we sent: the value cut to `maxChars` (with the
 * marker) and its control characters pictured. For tests and for operators comparing a SIEM field with
 * the stored event.
 */
export function cefReadBack(value: string, maxChars = 1023): string {
  return pictureControlCharacters(truncateWithMarker(value, maxChars))
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const IPV4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

/**
 * Reads a client address: an IPv4 address as is, an IPv4-mapped IPv6 address (what a dual-stack socket
 * reports) as the IPv4 client it is, an IPv6 address in its RFC 5952 form (lower case, leading zeros
 * dropped, the longest run of zero groups as `::`). Anything else is not an address and is left out
 * rather than sent to a key a strict parser would reject.
 */
export function classifySourceAddress(ip: string): { family: 4 | 6; value: string } | null {
  const mapped = IPV4_MAPPED.exec(ip)
  if (mapped && IPV4.test(mapped[1]!)) return { family: 4, value: mapped[1]! }
  if (IPV4.test(ip)) return { family: 4, value: ip }
  if (ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip)) {
    try {
      // The WHATWG URL parser is a complete IPv6 validator in every runtime, and its serialisation is
      // RFC 5952's canonical text form (it writes an embedded IPv4 part in hex, as 5952 allows).
      const host = new URL(`http://[${ip}]/`).hostname
      const canonical = host.slice(1, -1)
      const remapped = IPV4_MAPPED_HEX.exec(canonical)
      if (remapped) return { family: 4, value: hexToIpv4(remapped[1]!, remapped[2]!) }
      return { family: 6, value: canonical }
    } catch {
      return null
    }
  }
  return null
}
const IPV4_MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/

function hexToIpv4(high: string, low: string): string {
  const h = parseInt(high, 16)
  const l = parseInt(low, 16)
  return [h >> 8, h & 255, l >> 8, l & 255].join('.')
}

export function epochMs(iso: string | null | undefined): number | null {
  if (!iso) return null
  const ms = Date.parse(iso)
  return Number.isFinite(ms) ? ms : null
}

function integerOrNull(n: number): number | null {
  return Number.isSafeInteger(n) ? n : null
}

/** One extension key: how it is named and read, its limit, and where its value comes from. */
export interface CefField {
  key: string
  /** For the dictionary's custom keys (cs1, cn1, flexString1…): the value of their `<key>Label`. */
  label?: string
  /** The ArcSight dictionary's full name of the key. */
  fullName: string
  type: 'String' | 'Long' | 'IP Address' | 'IPv6 address' | 'Time Stamp'
  /** Maximum length in characters (strings only). */
  limit?: number
  meaning: string
  value: (payload: OutboxPayload, device: CefDevice) => string | number | null | undefined
}

const typedIdentifier = (payload: OutboxPayload): string | null => {
  const typed = (payload.event.metadata as Record<string, unknown>)['identifier_as_typed']
  return typeof typed === 'string' ? typed : null
}
/** The signed checkpoint a `chain_checkpoint` event carries, as one token (see formatCheckpointToken). */
const checkpointToken = (payload: OutboxPayload): string | null => {
  const e = payload.event
  if (e.event_type !== 'chain_checkpoint') return null
  const m = e.metadata as Record<string, unknown>
  if (typeof m.checkpoint_seq !== 'number' || typeof m.chain_hash !== 'string' || typeof m.signed_at !== 'string' || typeof m.key_id !== 'string' || typeof m.signature !== 'string') return null
  return formatCheckpointToken({ tenantId: e.tenant_id, shard: e.shard, seq: m.checkpoint_seq, chainHash: m.chain_hash, signedAt: m.signed_at, keyId: m.key_id, signature: m.signature })
}
const checkpointSeq = (payload: OutboxPayload): number | null => {
  const seq = payload.event.event_type === 'chain_checkpoint' ? (payload.event.metadata as Record<string, unknown>)['checkpoint_seq'] : null
  return typeof seq === 'number' ? integerOrNull(seq) : null
}
const address = (payload: OutboxPayload) => (payload.event.ip ? classifySourceAddress(payload.event.ip) : null)

/**
 * The extension keys, in the order they are written. Short, essential fields come first: a message cut
 * to fit a datagram loses the long, free-text ones at the end.
 */
export const CEF_FIELDS: readonly CefField[] = [
  { key: 'rt', fullName: 'deviceReceiptTime', type: 'Time Stamp', meaning: 'When the event occurred (`occurred_at`), milliseconds since the epoch', value: (p) => epochMs(p.event.occurred_at) },
  { key: 'act', fullName: 'deviceAction', type: 'String', limit: 63, meaning: 'The event type (as the header\'s Device Event Class ID)', value: (p) => p.event.event_type },
  { key: 'outcome', fullName: 'eventOutcome', type: 'String', limit: 63, meaning: '`success` or `failure`', value: (p) => p.event.outcome },
  { key: 'cat', fullName: 'deviceEventCategory', type: 'String', limit: 1023, meaning: 'The event type\'s category: `authentication`, `account_state`, `registration` or `administration`', value: (p) => EVENT_CATEGORY[p.event.event_type] },
  { key: 'externalId', fullName: 'externalId', type: 'String', limit: 40, meaning: 'The event id (a UUID): the same on every redelivery, so duplicates are recognisable', value: (p) => p.event.id },
  { key: 'dvchost', fullName: 'deviceHostName', type: 'String', limit: 100, meaning: 'The host that produced the event: the syslog HOSTNAME (`SYSLOG_HOSTNAME`)', value: (_, d) => d.deviceHost },
  { key: 'duid', fullName: 'destinationUserId', type: 'String', limit: 1023, meaning: 'The id of the account the event is about, when it exists', value: (p) => p.event.user_id },
  { key: 'src', fullName: 'sourceAddress', type: 'IP Address', meaning: 'The client address: IPv4, or IPv6 in RFC 5952 form (an IPv4-mapped address as IPv4)', value: (p) => address(p)?.value },
  { key: 'c6a2', label: 'Source IPv6 Address', fullName: 'deviceCustomIPv6Address2', type: 'IPv6 address', meaning: 'An IPv6 client address again (RFC 5952), for receivers that take only IPv4 in `src`', value: (p) => (address(p)?.family === 6 ? address(p)!.value : null) },
  { key: 'cs1', label: 'tenant', fullName: 'deviceCustomString1', type: 'String', limit: CUSTOM_STRING_LIMIT, meaning: 'The tenant id', value: (p) => p.event.tenant_id },
  { key: 'cs3', label: 'channel', fullName: 'deviceCustomString3', type: 'String', limit: CUSTOM_STRING_LIMIT, meaning: 'Where the event came from: `web`, `mobile`, `admin` or `system`', value: (p) => p.event.channel },
  { key: 'cn1', label: 'sequence', fullName: 'deviceCustomNumber1', type: 'Long', meaning: 'The event\'s position in its hash chain', value: (p) => integerOrNull(p.event.seq) },
  { key: 'cn2', label: 'shard', fullName: 'deviceCustomNumber2', type: 'Long', meaning: 'The hash chain (shard) of the tenant the event belongs to', value: (p) => integerOrNull(p.event.shard) },
  { key: 'cn3', label: 'riskScore', fullName: 'deviceCustomNumber3', type: 'Long', meaning: 'The attempt\'s risk score, 0–100, rounded', value: (p) => integerOrNull(Math.round(p.event.risk?.score ?? Number.NaN)) },
  { key: 'flexDate1', label: 'lockedUntil', fullName: 'flexDate1', type: 'Time Stamp', meaning: 'When the account\'s lockout ends (from the lockout state after the event), milliseconds since the epoch', value: (p) => epochMs(p.lockout?.account_locked_until) },
  { key: 'cs4', label: 'chainHash', fullName: 'deviceCustomString4', type: 'String', limit: CUSTOM_STRING_LIMIT, meaning: 'The event\'s chain hash (hex): an anchor of the tamper-evident trail', value: (p) => p.event.chain_hash },
  { key: 'reason', fullName: 'Reason', type: 'String', limit: 1023, meaning: 'Why the event has its outcome, e.g. `invalid_credentials`, `too_many_failures`', value: (p) => p.event.reason },
  { key: 'duser', fullName: 'destinationUserName', type: 'String', limit: 1023, meaning: 'The account the attempt targeted: the identifier as normalised (NFKC, trimmed, lower case)', value: (p) => p.event.identifier },
  { key: 'flexString2', label: 'identifierAsTyped', fullName: 'flexString2', type: 'String', limit: 1023, meaning: 'The identifier exactly as typed, present only when it differs from `duser`', value: typedIdentifier },
  { key: 'suid', fullName: 'sourceUserId', type: 'String', limit: 1023, meaning: 'The administrator who acted (administrative events)', value: (p) => p.event.actor_id },
  { key: 'cs2', label: 'organisation', fullName: 'deviceCustomString2', type: 'String', limit: CUSTOM_STRING_LIMIT, meaning: 'The organisation id within the tenant', value: (p) => p.event.organisation_id },
  { key: 'cs5', label: 'deviceId', fullName: 'deviceCustomString5', type: 'String', limit: CUSTOM_STRING_LIMIT, meaning: 'The device id a mobile client sent', value: (p) => p.event.device_id },
  { key: 'cs6', label: 'tokenJti', fullName: 'deviceCustomString6', type: 'String', limit: CUSTOM_STRING_LIMIT, meaning: 'The id (jti) of the session token a successful login issued', value: (p) => p.event.token_jti },
  { key: 'flexNumber1', label: 'checkpointSeq', fullName: 'flexNumber1', type: 'Long', meaning: '`chain_checkpoint` only: the chain position the checkpoint signs', value: checkpointSeq },
  {
    key: 'flexString1',
    label: 'checkpoint',
    fullName: 'flexString1',
    type: 'String',
    limit: 1023,
    meaning:
      '`chain_checkpoint` only: the signed checkpoint, `atcp1.<tenant>.<shard>.<seq>.<chain hash hex>.<signed at, epoch ms>.<key id>.<Ed25519 signature, base64url>`; verify it with the key of that id from `GET /v1/audit/keys` (an anchor of the trail: `verify-chain --siem-file`)',
    value: checkpointToken,
  },
  { key: 'requestClientApplication', fullName: 'requestClientApplication', type: 'String', limit: 1023, meaning: 'The client\'s User-Agent', value: (p) => p.event.user_agent },
]

/** The key a cut datagram ends with, saying so (see truncateCefMessage). */
export const CEF_DATAGRAM_TRUNCATED_KEY = 'msg'

/**
 * Formats one outbox payload as a CEF v0 message (no syslog header), writing the keys of CEF_FIELDS
 * that have a value. Values are cut to their key's limit (ending in the truncation marker), control
 * characters pictured, then escaped. Absent, empty and blank (whitespace-only) values are left out with
 * their labels: strict parsers reject an empty value, and a blank one says nothing.
 *
 * @example
 * formatCef(payload, { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' })
 * // 'CEF:0|authtrail|authtrail|0.1.0|login_failed|Login failed|5|rt=1763900000000 act=login_failed ...'
 */
export function formatCef(payload: OutboxPayload, device: CefDevice): string {
  const e = payload.event
  const header = [
    'CEF:0',
    headerField(device.deviceVendor, HEADER_LIMIT.deviceVendor),
    headerField(device.deviceProduct, HEADER_LIMIT.deviceProduct),
    headerField(device.deviceVersion, HEADER_LIMIT.deviceVersion),
    headerField(e.event_type, HEADER_LIMIT.signatureId),
    headerField(CEF_EVENT_NAME[e.event_type] ?? e.event_type, HEADER_LIMIT.name),
    String(cefSeverity(e.event_type)),
  ].join('|')

  const ext: string[] = []
  for (const field of CEF_FIELDS) {
    const value = field.value(payload, device)
    if (value === null || value === undefined) continue
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) continue
      if (field.label !== undefined) ext.push(`${field.key}Label=${escapeCefExtensionValue(truncateWithMarker(field.label, LABEL_LIMIT))}`)
      ext.push(`${field.key}=${value}`)
      continue
    }
    if (value.trim() === '') continue
    if (field.label !== undefined) ext.push(`${field.key}Label=${escapeCefExtensionValue(truncateWithMarker(field.label, LABEL_LIMIT))}`)
    ext.push(`${field.key}=${escapeCefExtensionValue(truncateWithMarker(value, field.limit ?? 1023))}`)
  }
  return `${header}|${ext.join(' ')}`
}

function headerField(value: string, limit: number): string {
  return escapeCefHeader(truncateWithMarker(value, limit))
}

/** The CEF severity (0–10) of an event type. */
export function cefSeverity(eventType: EventType): number {
  return CEF_SEVERITY[eventType] ?? 5
}
