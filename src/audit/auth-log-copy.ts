import { Buffer } from 'node:buffer'
import type { StoredChainedEvent } from '../core/chain.ts'
import type { AuthEvent } from '../core/auth-event.ts'
import type { AUTH_LOG_COLUMNS } from './stored-event.ts'

/**
 * Reading auth_logs rows as PostgreSQL's COPY text format (`COPY (SELECT AUTH_LOG_COLUMNS ...) TO STDOUT`)
 * instead of row objects: one line per row, columns separated by tabs, `\N` for NULL, backslash escapes
 * in values. Verification reads a chain page by page this way and parses the bytes where it hashes them
 * (in a worker thread when there is one), so the thread talking to PostgreSQL only moves bytes.
 *
 * Every value is decoded exactly as the `postgres` client decodes the same column in a row object
 * (src/db/client.ts): integers with Number, jsonb with JSON.parse, timestamptz with `new Date(text)`
 * (and then toISOString, as eventFromRow does; copyInstant gives the same text faster), bytea from its hex form. So a row verifies, or breaks at
 * the same place, whichever way it was read.
 *
 * The column order is the caller's (AUTH_LOG_COLUMNS, passed in): this module imports no values, so that
 * a worker thread loading it does not load the event catalog too.
 */

type AuthLogColumn = (typeof AUTH_LOG_COLUMNS)[number]
type ColumnIndex = Record<AuthLogColumn, number>

function indexColumns(columns: readonly AuthLogColumn[]): ColumnIndex {
  return Object.fromEntries(columns.map((column, i) => [column, i])) as ColumnIndex
}

const decoder = new TextDecoder('utf-8', { fatal: true })
const NEWLINE = 0x0a
const TAB = 0x09

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' }

/** A COPY text value without its escapes (COPY TO writes only \b \f \n \r \t \v and \\). */
function unescape(value: string): string {
  if (!value.includes('\\')) return value
  return value.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c)
}

const text = (value: string): string | null => (value === '\\N' ? null : unescape(value))
// bytea in hex output: `\x0a1b...`, its backslash doubled by COPY.
const bytes = (value: string): Uint8Array => Buffer.from(value.slice(3), 'hex')
// timestamptz as COPY writes it in UTC: `2026-11-01 21:32:07.285123+00`, the fraction (0–6 digits) optional.
const UTC_INSTANT = /^([12]\d{3}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/
/**
 * The instant's ISO form, exactly as `new Date(value).toISOString()` gives it (milliseconds, further
 * digits cut off): written out from the text for the UTC form of years 1000–2999, which is every row a
 * service writes, and left to Date otherwise (other offsets, far years, infinity). Date parsing was the
 * largest cost of a parsed row; a test compares both ways over many instants.
 */
export function copyInstant(value: string): string {
  const m = UTC_INSTANT.exec(value)
  if (m === null) return new Date(value).toISOString()
  const fraction = m[3] === undefined ? '000' : m[3].length >= 3 ? m[3].slice(0, 3) : m[3].padEnd(3, '0')
  // PostgreSQL writes only real instants (no month 13, no 24:00), so the text is already the ISO form.
  return `${m[1]}T${m[2]}.${fraction}Z`
}

/**
 * The stored events of a page of COPY text, in order. Lazy: a verifier that stops at a break parses no
 * further.
 */
export function* parseAuthLogCopy(page: Uint8Array, columns: readonly AuthLogColumn[]): Generator<StoredChainedEvent> {
  const at = indexColumns(columns)
  let start = 0
  while (start < page.length) {
    let end = page.indexOf(NEWLINE, start)
    if (end === -1) end = page.length
    // Row by row: decoding a whole page (megabytes) into one string cost several times more per byte. A
    // byte 0x0a never occurs inside a multi-byte UTF-8 sequence, so every row decodes on its own.
    const f = decoder.decode(page.subarray(start, end)).split('\t')
    start = end + 1
    if (f.length !== columns.length) throw new Error(`COPY row with ${f.length} columns, expected ${columns.length}`)
    const event: AuthEvent = {
      id: text(f[at.id]!)!,
      tenant_id: text(f[at.tenant_id]!)!,
      organisation_id: text(f[at.organisation_id]!),
      shard: Number(f[at.shard]),
      seq: Number(f[at.seq]),
      event_type: text(f[at.event_type]!) as AuthEvent['event_type'],
      channel: text(f[at.channel]!) as AuthEvent['channel'],
      user_id: text(f[at.user_id]!),
      identifier: text(f[at.identifier]!),
      ip: text(f[at.ip]!),
      user_agent: text(f[at.user_agent]!),
      device_id: text(f[at.device_id]!),
      occurred_at: copyInstant(f[at.occurred_at]!),
      outcome: text(f[at.outcome]!) as AuthEvent['outcome'],
      reason: text(f[at.reason]!),
      risk: JSON.parse(unescape(f[at.risk]!)),
      metadata: JSON.parse(unescape(f[at.metadata]!)),
      token_jti: text(f[at.token_jti]!),
      actor_id: text(f[at.actor_id]!),
      expires_at: copyInstant(f[at.expires_at]!),
    }
    yield {
      event,
      digestSha256: bytes(f[at.digest_sha256]!),
      digestSha512: bytes(f[at.digest_sha512]!),
      digestSha3_256: bytes(f[at.digest_sha3_256]!),
      prevHash: bytes(f[at.prev_hash]!),
      chainHash: bytes(f[at.chain_hash]!),
    }
  }
}

/**
 * How many rows a page of COPY text holds and the sequence number of its last row, read from the bytes
 * without decoding the page (the reader needs both to ask for the next page). A line feed inside a value
 * is written as `\n`, so every byte 0x0a ends a row.
 */
export function copyPageExtent(page: Uint8Array, columns: readonly AuthLogColumn[]): { rows: number; lastSeq: number } {
  const seqAt = columns.indexOf('seq')
  let rows = 0
  let lastStart = 0
  for (let i = page.indexOf(NEWLINE); i !== -1; i = page.indexOf(NEWLINE, i + 1)) {
    rows++
    if (i + 1 < page.length) lastStart = i + 1
  }
  if (rows === 0) return { rows: 0, lastSeq: 0 }
  let column = 0
  let from = lastStart
  for (let i = lastStart; i < page.length; i++) {
    if (page[i] !== TAB) continue
    if (column === seqAt) return { rows, lastSeq: Number(decoder.decode(page.subarray(from, i))) }
    column++
    from = i + 1
  }
  throw new Error('COPY row without a sequence number')
}
