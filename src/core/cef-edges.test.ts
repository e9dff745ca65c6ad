import { describe, expect, it } from 'vitest'
import { outboxPayload } from '../../test/support/outbox-payload.ts'
import type { ChainedEvent, OutboxPayload } from './auth-event.ts'
import { classifySourceAddress, escapeCefExtensionValue, escapeCefHeader, formatCef, pictureControlCharacters } from './cef.ts'
import { truncateCefMessage, truncateToUtf8Bytes } from './datagram-truncation.ts'
import { utf8ByteLength } from './octet-framing.ts'
import { formatSyslog5424, syslogSeverityForCef } from './syslog-5424.ts'

// The edges of the CEF and syslog formatting that a SIEM's parser or a receiver's framing depends on.

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }

const payload = (overrides: Partial<ChainedEvent> = {}): OutboxPayload => outboxPayload({ organisation_id: 'org-1', device_id: 'dev-1', token_jti: 'jti-1', actor_id: 'actor-1', ...overrides })

const extensionKeys = (cef: string) => [...cef.split('|').slice(7).join('|').matchAll(/(?:^| )([A-Za-z0-9]+)=/g)].map((m) => m[1])

describe('CEF extension values', () => {
  it('never emits a key with an empty value (strict parsers reject it), labelled or not', () => {
    const cef = formatCef(
      payload({ identifier: '', user_agent: '', reason: '', user_id: '', organisation_id: '', device_id: '', token_jti: '', actor_id: '', channel: '' as ChainedEvent['channel'] }),
      device,
    )
    expect(cef).not.toMatch(/=( |$)/)
    for (const key of ['duser', 'requestClientApplication', 'reason', 'duid', 'suid', 'cs2', 'cs2Label', 'cs3', 'cs3Label', 'cs5', 'cs5Label', 'cs6', 'cs6Label', 'flexString2', 'flexString2Label']) {
      expect(extensionKeys(cef)).not.toContain(key)
    }
  })

  it('emits every present value with its label', () => {
    const keys = extensionKeys(formatCef(payload(), device))
    for (const key of ['duser', 'requestClientApplication', 'reason', 'duid', 'suid', 'cs2', 'cs2Label', 'cs3', 'cs3Label', 'cs5', 'cs5Label', 'cs6', 'cs6Label', 'src']) {
      expect(keys).toContain(key)
    }
  })

  it('leaves out an occurred_at it cannot read and a risk score that is not a number', () => {
    const cef = formatCef(payload({ occurred_at: 'not a date', risk: undefined as unknown as ChainedEvent['risk'] }), device)
    expect(extensionKeys(cef)).not.toContain('rt')
    expect(extensionKeys(cef)).not.toContain('cn3')
    expect(formatSyslog5424(payload({ occurred_at: 'not a date' }), device, { hostname: 'h', appName: 'a' })).toMatch(/^<85>1 - h a - login_failed - CEF:0\|/)
  })
})

describe('classifySourceAddress', () => {
  it('sends every well-formed IPv4 address to src', () => {
    for (const ip of ['8.8.8.8', '0.0.0.0', '255.255.255.255', '249.250.199.100', '10.0.9.99', '1.22.123.200']) {
      expect(classifySourceAddress(ip), ip).toEqual({ family: 4, value: ip })
    }
  })

  it('leaves out what only looks like IPv4: octets over 255, leading zeros, too few or too many parts, padding', () => {
    for (const ip of ['256.1.1.1', '1.1.1.260', '1.300.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4x', 'x1.2.3.4', '1..2.3']) {
      expect(classifySourceAddress(ip), ip).toBeNull()
    }
  })

  it('unwraps IPv4-mapped addresses in any case, and only valid ones', () => {
    expect(classifySourceAddress('::FFFF:8.8.8.8')).toEqual({ family: 4, value: '8.8.8.8' })
    expect(classifySourceAddress('::ffff:999.1.1.1')).toBeNull()
    expect(classifySourceAddress('x::ffff:8.8.8.8')).toBeNull()
  })

  it('refuses a mapped address with anything after its IPv4 part', () => {
    for (const ip of ['::ffff:1.2.3.4.5', '::ffff:1.2.3.4:5', '::ffff:1.2.3.4::']) expect(classifySourceAddress(ip), ip).toBeNull()
  })

  it('keeps as IPv6 what only ends or starts like a mapped address', () => {
    // The URL parser writes these with ::ffff: inside, not as the whole prefix or the whole tail.
    expect(classifySourceAddress('1::ffff:102:304')).toEqual({ family: 6, value: '1::ffff:102:304' })
    expect(classifySourceAddress('::ffff:1:2:3')).toEqual({ family: 6, value: '::ffff:1:2:3' })
  })

  it('reads IPv6 in RFC 5952 form and refuses malformed IPv6 and anything else', () => {
    expect(classifySourceAddress('2001:DB8::1')).toEqual({ family: 6, value: '2001:db8::1' })
    expect(classifySourceAddress('::1')).toEqual({ family: 6, value: '::1' })
    for (const ip of ['2001:db8:::1', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'localhost', '', 'g::1']) {
      expect(classifySourceAddress(ip), ip).toBeNull()
    }
  })
})

describe('escaping a value made only of special characters', () => {
  // Each escape first tests whether the value needs it; a value with nothing else in it must not pass as clean.
  it('pictures a value that is one control character', () => {
    expect(pictureControlCharacters('\x07')).toBe('\u2407')
    expect(pictureControlCharacters('\x00\x7f')).toBe('\u2400\u2421')
  })

  it('escapes a header field that is only a pipe, a backslash or a line break', () => {
    expect(escapeCefHeader('|')).toBe('\\|')
    expect(escapeCefHeader('\\')).toBe('\\\\')
    expect(escapeCefHeader('\r\n')).toBe('  ')
  })

  it('escapes an extension value that is only an equals sign, a backslash or a line break', () => {
    expect(escapeCefExtensionValue('=')).toBe('\\=')
    expect(escapeCefExtensionValue('\\')).toBe('\\\\')
    expect(escapeCefExtensionValue('\n')).toBe('\\n')
  })
})

describe('syslog severity from CEF severity', () => {
  it('maps each band at its edges: 0–3 informational, 4–6 notice, 7–8 warning, 9–10 critical', () => {
    expect([0, 3, 4, 6, 7, 8, 9, 10].map(syslogSeverityForCef)).toEqual([6, 6, 5, 5, 4, 4, 2, 2])
  })

  it('gives PRI = authpriv (10) × 8 + severity on the wire', () => {
    // login_failed is CEF severity 5 in the catalog: authpriv.notice.
    expect(formatSyslog5424(payload(), device, { hostname: 'h', appName: 'a' }).slice(0, 5)).toBe('<85>1')
  })
})

describe('utf8ByteLength at every encoding boundary', () => {
  it('agrees with TextEncoder on each side of the 1-, 2-, 3- and 4-byte boundaries and on lone surrogates', () => {
    const samples = [
      '\u007f',
      '\u0080',
      '\u07ff',
      '\u0800',
      '\ud7ff',
      '\ue000',
      '\uffff',
      '\u{10000}',
      '\u{10ffff}',
      '\ud800',
      '\udbff',
      '\udc00',
      '\udfff',
      '\ud800a',
      '\ud800\ud800',
      '\udc00\ud800',
      'a\ud800',
      '\ud7ff\udc00',
      '\ue000\udc00',
      'x\udbff\udfffy',
      '\ud800\ue000',
      '\udbff\uffff',
    ]
    for (const s of samples) {
      expect(utf8ByteLength(s), JSON.stringify(s)).toBe(new TextEncoder().encode(s).length)
    }
  })

  it('cuts to a byte budget exactly at each encoding width', () => {
    expect(truncateToUtf8Bytes('ab\u0080', 3)).toBe('ab')
    expect(truncateToUtf8Bytes('ab\u0080', 4)).toBe('ab\u0080')
    expect(truncateToUtf8Bytes('a\u0800', 3)).toBe('a')
    expect(truncateToUtf8Bytes('a\u0800', 4)).toBe('a\u0800')
    expect(truncateToUtf8Bytes('a\u{10000}', 4)).toBe('a')
    expect(truncateToUtf8Bytes('a\u{10000}b', 5)).toBe('a\u{10000}')
    expect(truncateToUtf8Bytes('abc', 3)).toBe('abc')
    expect(truncateToUtf8Bytes('abcd', 3)).toBe('abc')
    expect(truncateToUtf8Bytes('a\\\\\\=', 4)).toBe('a\\\\')
  })
})

describe('truncateCefMessage', () => {
  const notice = (max: number) => `msg=datagram truncated to ${max} bytes`
  // The budget for fields is what remains after the notice, its space and a marker (3 bytes).
  const maxFor = (fieldBudget: number) => {
    let max = fieldBudget
    while (max - utf8ByteLength(notice(max)) - 1 - 3 < fieldBudget) max++
    return max
  }

  it('keeps every whole field that fits the budget, up to and including the last one, then says it cut', () => {
    const full = formatSyslog5424(payload(), device, { hostname: 'h', appName: 'a' })
    // All values here are ASCII without escapes, so each " key=" marks the end of the previous field.
    const fieldEnds = [...full.matchAll(/ [A-Za-z0-9]+=/g)].map((m) => m.index!).filter((i) => i > full.indexOf('|rt='))
    expect(fieldEnds.length).toBeGreaterThan(10)
    for (const end of fieldEnds) {
      const max = maxFor(end)
      // A budget that holds the notice may hold the whole message: then nothing is cut.
      if (max + 1 >= utf8ByteLength(full)) continue
      expect(truncateCefMessage(full, max)).toBe(`${full.slice(0, end)} ${notice(max)}`)
      // One byte more is only a space, which a parser would trim: nothing more can be kept.
      expect(truncateCefMessage(full, max + 1)).toBe(`${full.slice(0, end)} ${notice(max + 1)}`)
    }
    expect(truncateCefMessage(full, utf8ByteLength(full))).toBe(full)
    // The last value cut short ends in the marker.
    const max = utf8ByteLength(full) - 1
    const cut = truncateCefMessage(full, max)
    expect(cut.endsWith(`… ${notice(max)}`)).toBe(true)
    expect(utf8ByteLength(cut)).toBeLessThanOrEqual(max)
  })

  it('keeps the start of the first field when only it fits, and only the header and the notice when no value fits', () => {
    const full = formatSyslog5424(payload(), device, { hostname: 'h', appName: 'a' })
    const extensionStart = full.indexOf('|rt=') + 1
    const one = maxFor(extensionStart + 'rt=1'.length)
    expect(truncateCefMessage(full, one)).toBe(`${full.slice(0, extensionStart)}rt=1… ${notice(one)}`)
    const none = maxFor(extensionStart + 'rt='.length)
    expect(truncateCefMessage(full, none)).toBe(full.slice(0, extensionStart) + notice(none))
  })

  it('cuts a message without a complete CEF header by bytes alone', () => {
    expect(truncateCefMessage('<85>1 - - - - - CEF:0|a|b|c', 20)).toBe('<85>1 - - - - - CEF:')
    expect(truncateCefMessage('<85>1 - - - - - no cef here at all', 10)).toBe('<85>1 - - ')
  })
})
