import { describe, expect, it } from 'vitest'
import { canonicalAddress, headerText, parseProxyTrust, resolveClientAddress } from './client-address.ts'

// The edges of reading a client address: each written form, what a proxy list believes, and header text.

const headers = (xForwardedFor: string | null, forwarded: string | null = null) => ({ xForwardedFor, forwarded })

describe('canonicalAddress, each written form', () => {
  it('reads an address padded, quoted, bracketed, with a port or a zone', () => {
    expect(canonicalAddress(' 192.0.2.1 ')).toBe('192.0.2.1')
    expect(canonicalAddress('"192.0.2.1"')).toBe('192.0.2.1')
    expect(canonicalAddress('"192.0.2.1:443"')).toBe('192.0.2.1')
    expect(canonicalAddress('[::1]:80')).toBe('::1')
    expect(canonicalAddress('[::1]:65535')).toBe('::1')
    expect(canonicalAddress('192.0.2.1:1')).toBe('192.0.2.1')
    expect(canonicalAddress('::1')).toBe('::1')
    expect(canonicalAddress('fe80::1%eth0:1')).toBe('fe80::1')
  })

  it('refuses each malformed form', () => {
    for (const junk of [null, undefined, '"192.0.2.1', '192.0.2.1"', '[::1]x', 'x[::1]', '[::1]:123456', '[::1]:', '192.0.2.1:', '192.0.2.1:123456', 'a192.0.2.1:80', '192.0.2.1:80a', '192.0.2:80', '1.2.3.4.5:80']) {
      expect(canonicalAddress(junk), String(junk)).toBeNull()
    }
  })

  it('unquotes only a wholly quoted value, and strips a port only from a bare IPv4 address (IPv6 needs brackets)', () => {
    expect(canonicalAddress('1."2.3.4"')).toBeNull()
    expect(canonicalAddress('"1.2.3".4')).toBeNull()
    expect(canonicalAddress('::ffff:1.2.3.4:80')).toBeNull()
    expect(canonicalAddress('[::ffff:1.2.3.4]:80')).toBe('1.2.3.4')
  })

  it('writes IPv6 in RFC 5952 form', () => {
    expect(canonicalAddress('2001:0db8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1')
  })
})

describe('parseProxyTrust', () => {
  it('reads empty, blank and 0 as none, and a number as a hop count', () => {
    expect(parseProxyTrust('')).toEqual({ kind: 'none' })
    expect(parseProxyTrust('  ')).toEqual({ kind: 'none' })
    expect(parseProxyTrust(' 0 ')).toEqual({ kind: 'none' })
    expect(parseProxyTrust(' 12 ')).toEqual({ kind: 'hops', hops: 12 })
    expect(parseProxyTrust('10.0.0.0/8').kind).toBe('ranges')
  })

  it('reads a bare address as exactly that address, IPv4 and IPv6', () => {
    const trust = parseProxyTrust('10.0.0.1 , 2001:db8::1')
    expect(resolveClientAddress('10.0.0.1', headers('198.51.100.7'), trust)).toBe('198.51.100.7')
    expect(resolveClientAddress('10.0.0.2', headers('198.51.100.7'), trust)).toBe('10.0.0.2')
    expect(resolveClientAddress('2001:db8::1', headers('198.51.100.7'), trust)).toBe('198.51.100.7')
    expect(resolveClientAddress('2001:db8::2', headers('198.51.100.7'), trust)).toBe('2001:db8::2')
  })
})

describe('resolveClientAddress, the walk', () => {
  it('has no address without a readable socket and no trust', () => {
    expect(resolveClientAddress(null, headers('198.51.100.7'), parseProxyTrust(''))).toBeNull()
    expect(resolveClientAddress('unknown', headers('198.51.100.7'), parseProxyTrust(''))).toBeNull()
  })

  it('answers the socket address when a trusted proxy sent no forwarding header at all', () => {
    expect(resolveClientAddress('10.0.0.1', headers(null), parseProxyTrust('1'))).toBe('10.0.0.1')
    expect(resolveClientAddress('10.0.0.1', headers(null), parseProxyTrust('10.0.0.0/8'))).toBe('10.0.0.1')
  })

  it('takes the left-most entry when every hop is trusted', () => {
    expect(resolveClientAddress('10.0.0.1', headers('198.51.100.7'), parseProxyTrust('2'))).toBe('198.51.100.7')
    expect(resolveClientAddress('10.0.0.1', headers('10.0.0.3, 10.0.0.2'), parseProxyTrust('10.0.0.0/8'))).toBe('10.0.0.3')
  })

  it('trusts exactly N hops: the socket and N - 1 listed ones', () => {
    const xff = headers('198.51.100.1, 198.51.100.2, 198.51.100.3')
    expect(resolveClientAddress('10.0.0.1', xff, parseProxyTrust('1'))).toBe('198.51.100.3')
    expect(resolveClientAddress('10.0.0.1', xff, parseProxyTrust('2'))).toBe('198.51.100.2')
    expect(resolveClientAddress('10.0.0.1', xff, parseProxyTrust('3'))).toBe('198.51.100.1')
  })

  it('never matches an IPv6 hop against an IPv4 range or the reverse', () => {
    const trust = parseProxyTrust('0.0.0.0/0')
    expect(resolveClientAddress('2001:db8::9', headers('198.51.100.7'), trust)).toBe('2001:db8::9')
    expect(resolveClientAddress('10.0.0.1', headers('2001:db8::7'), parseProxyTrust('::/0'))).toBe('10.0.0.1')
  })

  it('stops at a junk entry behind trusted hops and returns the last good one', () => {
    expect(resolveClientAddress('10.0.0.1', headers('198.51.100.7, unknown, 10.0.0.2'), parseProxyTrust('10.0.0.0/8'))).toBe('10.0.0.2')
  })

  it('reads Forwarded elements in any case and order of pairs, and an element without for= ends the walk', () => {
    expect(resolveClientAddress('10.0.0.1', headers(null, 'proto=https; For=192.0.2.60'), parseProxyTrust('1'))).toBe('192.0.2.60')
    expect(resolveClientAddress('10.0.0.1', headers(null, 'for=192.0.2.60, proto=https'), parseProxyTrust('1'))).toBe('10.0.0.1')
    expect(resolveClientAddress('10.0.0.1', headers(null, 'for=192.0.2.60, by=10.0.0.9;for=198.51.100.2'), parseProxyTrust('2'))).toBe('192.0.2.60')
    expect(resolveClientAddress('10.0.0.1', headers('198.51.100.9', ''), parseProxyTrust('1'))).toBe('10.0.0.1')
  })
})

describe('headerText edges', () => {
  it('is null for absent, empty and control-only values, and drops DEL and C0 controls', () => {
    expect(headerText(null)).toBeNull()
    expect(headerText(undefined)).toBeNull()
    expect(headerText('')).toBeNull()
    expect(headerText('a\x7fb\x1fc\x00d')).toBe('abcd')
    expect(headerText('  ua/1.0  ')).toBe('ua/1.0')
  })

  it('decodes Latin-1 text only when every character is Latin-1, from U+0080 to U+00FF', () => {
    // 'Ã©' is how é's UTF-8 bytes arrive; 'ÿ' alone (0xff) is no UTF-8 and becomes U+FFFD.
    expect(headerText('caf\u00c3\u00a9')).toBe('café')
    expect(headerText('\u00ff')).toBe('\ufffd')
    expect(headerText('\u0080')).toBe('\ufffd')
    expect(headerText('caf\u00c3\u00a9 \u0100')).toBe('caf\u00c3\u00a9 \u0100')
    expect(headerText('plain \u007e')).toBe('plain ~')
  })
})
