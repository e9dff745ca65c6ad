import { CEF_DATAGRAM_TRUNCATED_KEY, CEF_TRUNCATION_MARKER } from './cef.ts'
import { utf8ByteLength } from './octet-framing.ts'

// Cutting a syslog message that carries CEF to fit one datagram (RFC 5426), so that it still parses. Pure.

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
 * still parses and says it was cut: on a code point boundary, never inside an escape, never ending in a
 * partial key or an empty value. A shortened last value ends in the truncation marker, and the message
 * ends with `msg=datagram truncated to N bytes`. The fields that did not fit are lost; the short,
 * essential ones come first in `formatCef` for that reason.
 */
export function truncateCefMessage(message: string, maxBytes: number): string {
  if (utf8ByteLength(message) <= maxBytes) return message
  const extensionStart = cefExtensionStart(message)
  if (extensionStart < 0) return truncateToUtf8Bytes(message, maxBytes)
  const notice = `${CEF_DATAGRAM_TRUNCATED_KEY}=datagram truncated to ${maxBytes} bytes`
  // Room for the notice, its separating space and a marker on the last value.
  const budget = maxBytes - utf8ByteLength(notice) - 1 - utf8ByteLength(CEF_TRUNCATION_MARKER)
  const kept = cutCefFields(message, extensionStart, budget)
  if (kept === null) return truncateToUtf8Bytes(message, maxBytes)
  if (kept.length <= extensionStart) return `${message.slice(0, extensionStart)}${notice}`
  return `${kept} ${notice}`
}

/**
 * The longest prefix of `message` within `budget` bytes that ends with a whole field or a field whose
 * value is cut (then ending in the marker); null when not even the header fits.
 */
function cutCefFields(message: string, extensionStart: number, budget: number): string | null {
  if (budget < utf8ByteLength(message.slice(0, extensionStart))) return null
  const cut = truncateToUtf8Bytes(message, budget)
  if (cut.length <= extensionStart) return cut.slice(0, extensionStart)
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
    if (value === '') continue
    const whole = cut.length >= fieldEnd
    return cut.slice(0, eq + 1) + value + (whole ? '' : CEF_TRUNCATION_MARKER)
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
