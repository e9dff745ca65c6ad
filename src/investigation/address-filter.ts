import { isIP } from 'node:net'

/** An IP filter: one address, or a CIDR block (RFC 4632 / RFC 4291 prefix notation). */
export type AddressFilter = { kind: 'host'; address: string } | { kind: 'cidr'; cidr: string }

/**
 * Parses `203.0.113.7`, `2001:db8::1`, `203.0.113.0/24` or `2001:db8::/32`. IPv4-mapped IPv6 addresses
 * become IPv4, as they are stored. Returns null for anything else, so that no malformed text reaches an
 * `inet` cast (which would be a 500, not a 400).
 */
export function parseAddressFilter(text: string): AddressFilter | null {
  const trimmed = text.trim()
  const slash = trimmed.indexOf('/')
  let address = slash < 0 ? trimmed : trimmed.slice(0, slash)
  if (address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4) address = address.slice(7)
  const version = isIP(address)
  if (version === 0) return null
  address = version === 6 ? address.toLowerCase() : address
  if (slash < 0) return { kind: 'host', address }
  const prefix = trimmed.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (version === 4 ? 32 : 128)) return null
  return { kind: 'cidr', cidr: `${address}/${Number(prefix)}` }
}
