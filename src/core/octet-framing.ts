// Octet counting for syslog over TCP and TLS (RFC 6587, RFC 5425). Pure.

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
