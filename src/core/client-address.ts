import ipaddr from 'ipaddr.js'

/**
 * Which proxies in front of the service are believed about the client's address: a number of hops (the
 * nearest N proxies are ours, each appends the address it saw), or the address ranges of our proxies
 * (each hop whose address is in one of them is ours). `none` believes no header.
 */
export type ProxyTrust = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'ranges'; ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] }

/**
 * Parses an address as it appears in a socket, an X-Forwarded-For entry or a Forwarded `for=` value
 * (quoted, bracketed, with a port, with a zone), into one canonical text: zones dropped, IPv4-mapped IPv6
 * unmapped, IPv6 in RFC 5952 form. Null when it is not an address (`unknown`, an obfuscated `_name`, junk).
 *
 * @example
 * canonicalAddress('fe80::1%eth0') // 'fe80::1'
 * canonicalAddress('"[2001:DB8::1]:4711"') // '2001:db8::1'
 */
export function canonicalAddress(raw: string | null | undefined): string | null {
  if (!raw) return null
  let text = raw.trim().replace(/^"(.*)"$/, '$1')
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text)
  if (bracketed) text = bracketed[1]!
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(text)) text = text.slice(0, text.lastIndexOf(':'))
  text = text.replace(/%.*$/, '')
  if (!ipaddr.isValid(text)) return null
  // ipaddr.isValid accepts shorthand IPv4 (`1`, `0x7f.1`); only the four-part dotted form is an address here.
  if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text)) return null
  const address = ipaddr.parse(text)
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toRFC5952String()
  }
  return address.toString()
}

/** Reads TRUSTED_PROXIES: empty for none, a hop count (`1`), or comma-separated addresses and CIDR ranges. */
export function parseProxyTrust(text: string): ProxyTrust {
  const value = text.trim()
  if (value === '' || value === '0') return { kind: 'none' }
  if (/^\d+$/.test(value)) return { kind: 'hops', hops: Number(value) }
  const ranges = value.split(',').map((part) => {
    const entry = part.trim()
    if (entry.includes('/')) return ipaddr.parseCIDR(entry)
    const address = ipaddr.parse(entry)
    return [address, address.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number]
  })
  return { kind: 'ranges', ranges }
}

function inRanges(address: string, ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][]): boolean {
  const parsed = ipaddr.parse(address)
  return ranges.some(([range, bits]) => parsed.kind() === range.kind() && parsed.match(range, bits))
}

/** The `for=` values of a Forwarded header (RFC 7239), in order; null where an element has none. */
function forwardedFor(header: string): (string | null)[] {
  return header.split(',').map((element) => {
    const pair = element
      .split(';')
      .map((p) => p.trim())
      .find((p) => p.toLowerCase().startsWith('for='))
    return pair ? pair.slice(4) : null
  })
}

/**
 * The client's address: the socket's peer, unless it is a trusted proxy, in which case the hops that
 * proxies appended (Forwarded, else X-Forwarded-For) are read from the right, skipping trusted ones. The
 * left-most entries are written by the client itself and are never believed past the first untrusted hop.
 * An entry that is not an address ends the walk at the last address known good (the hop that sent it).
 *
 * @example
 * resolveClientAddress('10.0.0.2', { forwarded: null, xForwardedFor: '198.51.100.7, 10.0.0.1' }, parseProxyTrust('10.0.0.0/8')) // '198.51.100.7'
 */
export function resolveClientAddress(socket: string | null, headers: { forwarded: string | null; xForwardedFor: string | null }, trust: ProxyTrust): string | null {
  const peer = canonicalAddress(socket)
  if (trust.kind === 'none') return peer
  const listed = headers.forwarded !== null ? forwardedFor(headers.forwarded) : (headers.xForwardedFor?.split(',') ?? [])
  // Nearest first: the socket's peer, then each hop from the right.
  const hops = [peer, ...listed.reverse().map((entry) => canonicalAddress(entry))]
  let client = peer
  for (const [i, address] of hops.entries()) {
    if (address === null) return client ?? peer
    client = address
    const trusted = trust.kind === 'hops' ? i < trust.hops : inRanges(address, trust.ranges)
    if (!trusted) return address
  }
  return client
}

/**
 * Header values as text: runtimes hand them over as Latin-1 (one character per byte), so UTF-8 sent by a
 * client arrives as mojibake. The bytes are decoded as UTF-8 (invalid sequences become U+FFFD); control
 * characters are dropped. A value that already holds characters beyond Latin-1 is kept as it is.
 */
export function headerText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null
  let text = value
  if (/[\u0080-\u00ff]/.test(text) && !/[^\u0000-\u00ff]/.test(text)) {
    text = new TextDecoder('utf-8').decode(Uint8Array.from(text, (ch) => ch.charCodeAt(0)))
  }
  text = text.replace(/[\u0000-\u001f\u007f]/g, '').trim()
  return text === '' ? null : text
}
