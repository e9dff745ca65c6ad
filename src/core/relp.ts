import { utf8ByteLength } from './octet-framing.ts'

/**
 * RELP, rsyslog's Reliable Event Logging Protocol: framing and the protocol's fixed texts. Pure (no
 * I/O, no runtime imports), so the transport in sinks/syslog only moves bytes and keeps time.
 *
 * A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: TXNR a transaction number from 1 to
 * 999,999,999 (then 1 again), COMMAND one of `open`, `syslog`, `close`, `rsp`, `serverclose`, DATALEN
 * the number of bytes of DATA (without a SP and DATA when 0). The receiver answers every command with
 * `rsp` under the same TXNR, whose DATA starts with a three-digit status (`200 OK`); `serverclose`
 * (TXNR 0) announces that the receiver is going away.
 */

export const RELP_MAX_TXNR = 999_999_999
/** DATALEN has at most 9 digits; rsyslog refuses much smaller frames anyway (its maxDataSize). */
const MAX_DATALEN = 999_999_999
const MAX_HEADER_BYTES = 9 + 1 + 32 + 1 + 9 + 1

export type RelpCommand = 'open' | 'syslog' | 'close' | 'rsp' | 'serverclose' | (string & {})

/** One decoded frame. */
export interface RelpFrame {
  txnr: number
  command: RelpCommand
  /** DATA decoded as UTF-8; '' when DATALEN is 0. */
  data: string
}

/** The TXNR after `txnr`: 1 follows 999,999,999. */
export function nextRelpTxnr(txnr: number): number {
  return txnr >= RELP_MAX_TXNR ? 1 : txnr + 1
}

/**
 * Encodes a frame as a string (DATALEN counted in UTF-8 bytes), to be written as UTF-8.
 *
 * @example
 * encodeRelpFrame(2, 'syslog', '<85>1 - - - - - - Jörg') // '2 syslog 23 <85>1 - - - - - - Jörg\n'
 */
export function encodeRelpFrame(txnr: number, command: RelpCommand, data = ''): string {
  if (!Number.isSafeInteger(txnr) || txnr < 0 || txnr > RELP_MAX_TXNR) throw new RangeError(`RELP TXNR out of range: ${txnr}`)
  if (!/^[a-zA-Z]{1,32}$/.test(command)) throw new RangeError(`invalid RELP command: ${command}`)
  if (data === '') return `${txnr} ${command} 0\n`
  return `${txnr} ${command} ${utf8ByteLength(data)} ${data}\n`
}

/** What the client offers in `open`: protocol version 0 (librelp's), and the one command it uses. */
export function relpOpenOffers(software: string): string {
  return `relp_version=0\nrelp_software=${software.replace(/[\r\n]/g, ' ')}\ncommands=syslog`
}

/** A response's status and text: `200 OK` → { code: 200, message: 'OK' }. Offers after the first line are in `rest`. */
export interface RelpResponse {
  code: number
  message: string
  rest: string
}

/** Parses the DATA of an `rsp` frame. A malformed one reads as code 0, which no caller accepts. */
export function parseRelpResponse(data: string): RelpResponse {
  const newline = data.indexOf('\n')
  const first = newline < 0 ? data : data.slice(0, newline)
  const rest = newline < 0 ? '' : data.slice(newline + 1)
  const match = /^(\d{3})(?: (.*))?$/.exec(first)
  if (!match) return { code: 0, message: first, rest }
  return { code: Number(match[1]), message: match[2] ?? '', rest }
}

/** Whether the receiver's `open` response accepts the `syslog` command. */
export function relpOffersSyslog(openResponse: RelpResponse): boolean {
  return openResponse.code === 200 && /(?:^|\n)commands=(?:[^\n]*,)?syslog(?:,|\n|$)/.test(openResponse.rest)
}

/** Thrown for bytes that are not a RELP frame: the connection cannot be trusted any further. */
export class RelpProtocolError extends Error {
  override name = 'RelpProtocolError'
}

/**
 * An incremental decoder of the frames a receiver sends: feed it the bytes as they arrive, in chunks of
 * any size, and it returns the frames completed so far.
 *
 * @example
 * const decoder = createRelpDecoder()
 * decoder.push(new TextEncoder().encode('2 rsp 6 200 OK\n')) // [{ txnr: 2, command: 'rsp', data: '200 OK' }]
 */
export function createRelpDecoder(): { push(chunk: Uint8Array): RelpFrame[] } {
  const text = new TextDecoder('utf-8', { fatal: false })
  let buffer: Uint8Array = new Uint8Array(0)

  return {
    push(chunk) {
      if (buffer.length === 0) buffer = chunk
      else {
        const joined = new Uint8Array(buffer.length + chunk.length)
        joined.set(buffer)
        joined.set(chunk, buffer.length)
        buffer = joined
      }
      const frames: RelpFrame[] = []
      let offset = 0
      for (;;) {
        const frame = decodeOne(buffer, offset, text)
        if (frame === null) break
        frames.push(frame.frame)
        offset = frame.end
      }
      buffer = offset === 0 ? buffer : buffer.slice(offset)
      return frames
    },
  }
}

/** Decodes the frame at `offset`, or returns null when more bytes are needed. */
function decodeOne(bytes: Uint8Array, offset: number, text: TextDecoder): { frame: RelpFrame; end: number } | null {
  // Header: three space-separated tokens, ASCII only.
  const tokens: string[] = []
  let i = offset
  let token = ''
  let endedAtLf = false
  while (tokens.length < 3) {
    if (i >= bytes.length) {
      if (i - offset > MAX_HEADER_BYTES) throw new RelpProtocolError('RELP frame header too long')
      return null
    }
    const b = bytes[i++]!
    if (b === 0x20 || (b === 0x0a && tokens.length === 2)) {
      tokens.push(token)
      token = ''
      if (b === 0x0a) {
        // `TXNR COMMAND 0 LF`: no SP and no DATA.
        i--
        endedAtLf = true
        break
      }
    } else if (b >= 0x21 && b <= 0x7e) {
      token += String.fromCharCode(b)
      if (i - offset > MAX_HEADER_BYTES) throw new RelpProtocolError('RELP frame header too long')
    } else throw new RelpProtocolError(`unexpected byte ${b} in a RELP frame header`)
  }
  const [txnrText, command, lengthText] = tokens as [string, string, string]
  if (!/^\d{1,9}$/.test(txnrText) || !/^[a-zA-Z]{1,32}$/.test(command) || !/^\d{1,9}$/.test(lengthText)) {
    throw new RelpProtocolError(`malformed RELP frame header: ${tokens.join(' ')}`)
  }
  const length = Number(lengthText)
  if (length > MAX_DATALEN) throw new RelpProtocolError('RELP DATALEN too large')
  if (endedAtLf && length !== 0) throw new RelpProtocolError(`RELP frame announces ${length} bytes but has none`)
  if (length === 0) {
    if (i >= bytes.length) return null
    if (bytes[i] !== 0x0a) throw new RelpProtocolError('RELP frame without its trailing LF')
    return { frame: { txnr: Number(txnrText), command, data: '' }, end: i + 1 }
  }
  // i is just after the SP that follows DATALEN.
  if (i + length + 1 > bytes.length) return null
  if (bytes[i + length] !== 0x0a) throw new RelpProtocolError('RELP frame without its trailing LF')
  return { frame: { txnr: Number(txnrText), command, data: text.decode(bytes.subarray(i, i + length)) }, end: i + length + 1 }
}
