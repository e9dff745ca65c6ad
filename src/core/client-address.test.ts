import { describe, expect, it } from 'vitest'
import { canonicalAddress, headerText, parseProxyTrust, resolveClientAddress } from './client-address.ts'

describe('canonicalAddress', () => {
  it('drops zones, unmaps IPv4-mapped IPv6, writes IPv6 in RFC 5952 form', () => {
    expect(canonicalAddress('fe80::1%eth0')).toBe('fe80::1')
    expect(canonicalAddress('fe80::1%25eth0')).toBe('fe80::1')
    expect(canonicalAddress('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(canonicalAddress('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1')
    expect(canonicalAddress('[2001:db8::1]')).toBe('2001:db8::1')
    expect(canonicalAddress('"[2001:db8:cafe::17]:4711"')).toBe('2001:db8:cafe::17')
    expect(canonicalAddress('192.0.2.60:8080')).toBe('192.0.2.60')
  })

  it('is null for anything that is not an address', () => {
    for (const junk of ['unknown', '1.2.3.4|evil', '999.1.1.1', '_hidden', '', '1', '0x7f.1', ' , ']) expect(canonicalAddress(junk)).toBeNull()
  })
})

describe('resolveClientAddress', () => {
  const headers = (xForwardedFor: string | null, forwarded: string | null = null) => ({ xForwardedFor, forwarded })

  it('believes no header without trusted proxies', () => {
    expect(resolveClientAddress('203.0.113.9', headers('198.51.100.1'), parseProxyTrust(''))).toBe('203.0.113.9')
  })

  it('with a hop count, takes the entry that many hops from the socket, never the client-written left-most', () => {
    expect(resolveClientAddress('10.0.0.1', headers('6.6.6.6, 198.51.100.7'), parseProxyTrust('1'))).toBe('198.51.100.7')
    expect(resolveClientAddress('10.0.0.1', headers('6.6.6.6, 198.51.100.7, 10.0.0.2'), parseProxyTrust('2'))).toBe('198.51.100.7')
  })

  it('with ranges, skips every trusted hop from the right', () => {
    const trust = parseProxyTrust('10.0.0.0/8, ::1')
    expect(resolveClientAddress('10.0.0.1', headers('6.6.6.6, 198.51.100.7, 10.1.2.3'), trust)).toBe('198.51.100.7')
    expect(resolveClientAddress('203.0.113.9', headers('198.51.100.7'), trust)).toBe('203.0.113.9')
  })

  it('an entry that is not an address falls back to the last good hop (the connecting address)', () => {
    for (const junk of ['unknown', '1.2.3.4|evil', '[2001:db8::1', '']) {
      expect(resolveClientAddress('10.0.0.1', headers(junk), parseProxyTrust('1'))).toBe('10.0.0.1')
    }
  })

  it('reads RFC 7239 Forwarded before X-Forwarded-For', () => {
    expect(resolveClientAddress('10.0.0.1', headers('6.6.6.6', 'for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"'), parseProxyTrust('1'))).toBe('2001:db8:cafe::17')
    expect(resolveClientAddress('10.0.0.1', headers(null, 'for=_hidden'), parseProxyTrust('1'))).toBe('10.0.0.1')
  })

  it('refuses a malformed TRUSTED_PROXIES', () => {
    expect(() => parseProxyTrust('10.0.0.0/99')).toThrow()
    expect(() => parseProxyTrust('proxy.example')).toThrow()
  })
})

describe('headerText', () => {
  it('decodes the Latin-1 a runtime hands over as the UTF-8 the client sent', () => {
    expect(headerText(Buffer.from('ü漢字', 'utf8').toString('latin1'))).toBe('ü漢字')
    expect(headerText('plain/1.0')).toBe('plain/1.0')
    expect(headerText('\xfcA')).toBe('\ufffdA')
    expect(headerText('already ü漢字')).toBe('already ü漢字')
    expect(headerText(' \x01 ')).toBeNull()
  })
})
