import type { OutboxPayload } from './auth-event.ts'
import { EVENT_CATEGORY, mapEventTypes, type EventType } from './event-types.ts'

/**
 * CEF v0 and RFC 5424 formatting of audit events for SIEMs. Pure: no I/O, no runtime imports, so every
 * transport (and every runtime) sends the very same bytes, and a redelivered event is byte-identical.
 */

/** The three device fields of the CEF header: who produced the event. */
export interface CefDevice {
  deviceVendor: string
  deviceProduct: string
  deviceVersion: string
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
const EXTENSION_LIMIT: Record<string, number> = {
  act: 63,
  outcome: 63,
  reason: 1023,
  requestClientApplication: 1023,
  suser: 1023,
  suid: 1023,
  externalId: 40,
  cat: 1023,
  flexString1: 1023,
  flexString1Label: 128,
  flexDate1Label: 128,
  c6a2: 64,
  c6a2Label: LABEL_LIMIT,
  cs1: CUSTOM_STRING_LIMIT,
  cs2: CUSTOM_STRING_LIMIT,
  cs3: CUSTOM_STRING_LIMIT,
  cs4: CUSTOM_STRING_LIMIT,
  cs5: CUSTOM_STRING_LIMIT,
  cs6: CUSTOM_STRING_LIMIT,
}

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

/** Escapes a CEF header field: backslash and pipe; CR and LF are not allowed and become spaces. */
export function escapeCefHeader(value: string): string {
  // Most values need no escaping; testing first skips the replace and its allocation.
  if (!HEADER_SPECIAL.test(value)) return value
  return value.replace(/[\\|\r\n]/g, (c) => (c === '\r' || c === '\n' ? ' ' : `\\${c}`))
}
const HEADER_SPECIAL = /[\\|\r\n]/

const EXTENSION_ESCAPES: Record<string, string> = { '\\': '\\\\', '=': '\\=', '\n': '\\n', '\r': '\\r' }

/** Escapes a CEF extension value: backslash, equals, and CR/LF as `\r`/`\n`. Pipes stay literal. */
export function escapeCefExtensionValue(value: string): string {
  if (!EXTENSION_SPECIAL.test(value)) return value
  return value.replace(/[\\=\r\n]/g, (c) => EXTENSION_ESCAPES[c]!)
}
const EXTENSION_SPECIAL = /[\\=\r\n]/

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const IPV4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

/**
 * Sorts an address into the CEF key it belongs to. `src` is IPv4 in CEF 0.x, so IPv6 goes to `c6a2`,
 * the dictionary's "Source IPv6 Address". An IPv4-mapped IPv6 address (what a dual-stack socket reports)
 * is an IPv4 client and goes to `src`. Anything else is not an address and is left out rather than
 * sent to a key a strict parser would reject.
 */
export function classifySourceAddress(ip: string): { key: 'src' | 'c6a2'; value: string } | null {
  const mapped = IPV4_MAPPED.exec(ip)
  if (mapped && IPV4.test(mapped[1]!)) return { key: 'src', value: mapped[1]! }
  if (IPV4.test(ip)) return { key: 'src', value: ip }
  if (ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip)) {
    try {
      // The WHATWG URL parser is a complete IPv6 validator available in every runtime, without I/O.
      new URL(`http://[${ip}]/`)
      return { key: 'c6a2', value: ip.toLowerCase() }
    } catch {
      return null
    }
  }
  return null
}

function epochMs(iso: string | null | undefined): number | null {
  if (!iso) return null
  const ms = Date.parse(iso)
  return Number.isFinite(ms) ? ms : null
}

/**
 * Formats one outbox payload as a CEF v0 message (no syslog header).
 *
 * Extension keys: `rt` (occurred_at, epoch ms), `act` (event type), `outcome`, `cat` (event category),
 * `externalId` (event id), `suid` (user id), `src` or `c6a2` (client address), `cs1`–`cs6` (tenant,
 * organisation, channel, chain hash, device id, token jti), `cn1` (sequence), `cn2` (shard), `cn3`
 * (risk score, rounded), `flexDate1` (locked until, from the lockout snapshot), `reason`, `suser`
 * (identifier), `flexString1` (actor id), `requestClientApplication` (user agent).
 * Null or empty values are left out: strict parsers reject an empty value.
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
  // Short, essential fields first: a message cut to fit a datagram loses the long, free-text ones.
  pushField(ext, 'rt', epochMs(e.occurred_at))
  pushField(ext, 'act', e.event_type)
  pushField(ext, 'outcome', e.outcome)
  pushField(ext, 'cat', EVENT_CATEGORY[e.event_type])
  pushField(ext, 'externalId', e.id)
  pushField(ext, 'suid', e.user_id)
  const address = e.ip ? classifySourceAddress(e.ip) : null
  if (address?.key === 'src') pushField(ext, 'src', address.value)
  if (address?.key === 'c6a2') pushLabelled(ext, 'c6a2', 'Source IPv6 Address', address.value)
  pushLabelled(ext, 'cs1', 'tenant', e.tenant_id)
  pushLabelled(ext, 'cs3', 'channel', e.channel)
  pushLabelled(ext, 'cn1', 'sequence', integerOrNull(e.seq))
  pushLabelled(ext, 'cn2', 'shard', integerOrNull(e.shard))
  pushLabelled(ext, 'cn3', 'riskScore', integerOrNull(Math.round(e.risk?.score ?? Number.NaN)))
  pushLabelled(ext, 'flexDate1', 'lockedUntil', epochMs(payload.lockout?.account_locked_until))
  pushLabelled(ext, 'cs4', 'chainHash', e.chain_hash)
  pushField(ext, 'reason', e.reason)
  pushField(ext, 'suser', e.identifier)
  pushLabelled(ext, 'cs2', 'organisation', e.organisation_id)
  pushLabelled(ext, 'flexString1', 'actorId', e.actor_id)
  pushLabelled(ext, 'cs5', 'deviceId', e.device_id)
  pushLabelled(ext, 'cs6', 'tokenJti', e.token_jti)
  pushField(ext, 'requestClientApplication', e.user_agent)

  return `${header}|${ext.join(' ')}`
}

/** Appends `key=value`, cut to the key's limit and escaped; null and empty values are left out. */
function pushField(ext: string[], key: string, value: string | number | null | undefined): void {
  if (value === null || value === undefined || value === '') return
  if (typeof value === 'number') ext.push(`${key}=${value}`)
  else ext.push(`${key}=${escapeCefExtensionValue(truncateToCodePoints(value, EXTENSION_LIMIT[key] ?? 1023))}`)
}

/** Appends a custom field preceded by its label, or neither when the value is absent. */
function pushLabelled(ext: string[], key: string, label: string, value: string | number | null | undefined): void {
  if (value === null || value === undefined || value === '') return
  pushField(ext, `${key}Label`, label)
  pushField(ext, key, value)
}

function headerField(value: string, limit: number): string {
  return escapeCefHeader(truncateToCodePoints(value, limit))
}

function integerOrNull(n: number): number | null {
  return Number.isSafeInteger(n) ? n : null
}

/** The CEF severity (0–10) of an event type. */
export function cefSeverity(eventType: EventType): number {
  return CEF_SEVERITY[eventType] ?? 5
}

/** Syslog facility authpriv (RFC 5424 table 1): security messages meant for restricted logs. */
export const SYSLOG_FACILITY_AUTHPRIV = 10

/**
 * Maps CEF severity to a syslog severity: very high (9–10) is critical (2), high (7–8) warning (4),
 * medium (4–6) notice (5), low (0–3) informational (6). No audit event is a system error, so err (3)
 * and the emergency levels stay unused.
 */
export function syslogSeverityForCef(cefSeverityValue: number): number {
  if (cefSeverityValue >= 9) return 2
  if (cefSeverityValue >= 7) return 4
  if (cefSeverityValue >= 4) return 5
  return 6
}

/** The RFC 5424 header fields the sender chooses. */
export interface SyslogHeader {
  hostname: string
  appName: string
  /** Defaults to the NILVALUE `-`. */
  procId?: string
}

/** RFC 5424 header fields are PRINTUSASCII (33–126) with a maximum length; `-` stands for empty. */
function headerToken(value: string | undefined, maxLength: number): string {
  const clean = (value ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, maxLength)
  return clean === '' ? '-' : clean
}

/**
 * Formats an event as an RFC 5424 syslog message carrying its CEF form:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - CEF:0|...`. Facility authpriv, severity from the
 * CEF severity, TIMESTAMP the event's `occurred_at` (so a redelivery is byte-identical), MSGID the event
 * type, no structured data. The MSG carries no UTF-8 BOM: SIEM CEF parsers expect `CEF:` at its start.
 * The result never contains CR or LF, so it is also one line of a log file.
 *
 * @example
 * formatSyslog5424(payload, device, { hostname: 'auth-1', appName: 'authtrail' })
 * // '<85>1 2026-11-23T10:00:00.000Z auth-1 authtrail - login_failed - CEF:0|authtrail|...'
 */
export function formatSyslog5424(payload: OutboxPayload, device: CefDevice, header: SyslogHeader): string {
  return createSyslog5424Formatter(device, header)(payload)
}

/**
 * `formatSyslog5424` with the header fields sanitised once, for formatting many events (a sink).
 *
 * @example
 * const format = createSyslog5424Formatter(device, { hostname: 'auth-1', appName: 'authtrail' })
 * const lines = batch.map(format)
 */
export function createSyslog5424Formatter(device: CefDevice, header: SyslogHeader): (payload: OutboxPayload) => string {
  const origin = `${headerToken(header.hostname, 255)} ${headerToken(header.appName, 48)} ${headerToken(header.procId, 128)}`
  return (payload) => {
    const e = payload.event
    const pri = SYSLOG_FACILITY_AUTHPRIV * 8 + syslogSeverityForCef(cefSeverity(e.event_type))
    const ms = epochMs(e.occurred_at)
    const timestamp = ms === null ? '-' : new Date(ms).toISOString()
    return `<${pri}>1 ${timestamp} ${origin} ${headerToken(e.event_type, 32)} - ${formatCef(payload, device)}`
  }
}

/**
 * The number of bytes `value` takes in UTF-8, as `TextEncoder` would encode it (a lone surrogate
 * becomes U+FFFD, three bytes). Computed without encoding so that frames can be built as strings and
 * encoded once per write.
 */
export function utf8ByteLength(value: string): number {
  let bytes = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/**
 * Frames a message for syslog over TCP or TLS with octet counting (RFC 6587 §3.4.1, RFC 5425 §4.3):
 * `MSG-LEN SP MSG`, where MSG-LEN counts UTF-8 bytes. Counting characters instead would make the
 * receiver cut a message with `ö` short and read its tail as the start of the next frame.
 *
 * @example
 * frameOctetCounted('<85>1 - - - - - - Jörg') // '23 <85>1 - - - - - - Jörg'
 */
export function frameOctetCounted(message: string): string {
  return `${utf8ByteLength(message)} ${message}`
}

/**
 * Cuts `message` to at most `maxBytes` UTF-8 bytes on a code point boundary. A trailing backslash that
 * was the first half of a CEF escape is dropped too.
 */
export function truncateToUtf8Bytes(message: string, maxBytes: number): string {
  if (message.length <= maxBytes / 3 || utf8ByteLength(message) <= maxBytes) return message
  let bytes = 0
  let end = 0
  for (const ch of message) {
    const size = utf8ByteLength(ch)
    if (bytes + size > maxBytes) break
    bytes += size
    end += ch.length
  }
  let cut = message.slice(0, end)
  const trailingBackslashes = /\\+$/.exec(cut)?.[0].length ?? 0
  if (trailingBackslashes % 2 === 1) cut = cut.slice(0, -1)
  return cut
}

/**
 * Cuts a syslog message carrying CEF to at most `maxBytes` UTF-8 bytes (a UDP datagram) so that it
 * still parses: on a code point boundary, never inside an escape, and never ending in a partial key or
 * an empty value; the last field kept may have a shortened value. The fields that did not fit are lost;
 * the short, essential ones come first in `formatCef` for that reason.
 */
export function truncateCefMessage(message: string, maxBytes: number): string {
  const cut = truncateToUtf8Bytes(message, maxBytes)
  if (cut === message) return message
  const extensionStart = cefExtensionStart(message)
  if (extensionStart < 0 || cut.length <= extensionStart) return cut
  // Field boundaries come from the whole message: each unescaped `=` ends a key, which starts after the
  // last space before it. Collected up to the first `=` beyond the cut, which bounds the last field kept.
  const separators: number[] = []
  for (let i = extensionStart; i < message.length; i++) {
    const c = message[i]
    if (c === '\\') i++
    else if (c === '=') {
      separators.push(i)
      if (i >= cut.length) break
    }
  }
  const keyStart = (eq: number) => Math.max(extensionStart, message.lastIndexOf(' ', eq) + 1)
  for (let k = separators.length - 1; k >= 0; k--) {
    const eq = separators[k]!
    if (eq >= cut.length) continue
    const fieldEnd = k + 1 < separators.length ? keyStart(separators[k + 1]!) - 1 : message.length
    // Trailing spaces go: parsers trim them, so keeping them would not keep the value.
    const value = cut.slice(eq + 1, Math.min(cut.length, fieldEnd)).replace(/ +$/, '')
    if (value !== '') return cut.slice(0, eq + 1) + value
  }
  return cut.slice(0, extensionStart)
}

/** Index just after the seventh unescaped pipe of the CEF part, or -1 if the header is incomplete. */
function cefExtensionStart(message: string): number {
  const cef = message.indexOf('CEF:')
  if (cef < 0) return -1
  let pipes = 0
  for (let i = cef; i < message.length; i++) {
    const c = message[i]
    if (c === '\\') i++
    else if (c === '|' && ++pipes === 7) return i + 1
  }
  return -1
}
