import { describe, expect, it } from 'vitest'
import { outboxPayload } from '../../test/support/outbox-payload.ts'
import type { ChainedEvent, OutboxPayload } from './auth-event.ts'
import { CEF_EVENT_NAME, CEF_SEVERITY, classifySourceAddress, escapeCefExtensionValue, escapeCefHeader, formatCef, truncateToCodePoints, truncateWithMarker, cefReadBack } from './cef.ts'
import { truncateCefMessage, truncateToUtf8Bytes } from './datagram-truncation.ts'
import { frameOctetCounted, utf8ByteLength } from './octet-framing.ts'
import { formatSyslog5424, syslogSeverityForCef } from './syslog-5424.ts'
import { EVENT_TYPES } from './event-types.ts'

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }

const payloadWith = outboxPayload

/** Splits a CEF line the way a strict parser does: 7 unescaped pipes, then space-separated key=value. */
function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = []
  let field = ''
  let i = 0
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!
    if (c === '\\') {
      field += line[++i]
    } else if (c === '|') {
      header.push(field)
      field = ''
    } else field += c
  }
  const rest = line.slice(i)
  const ext: Record<string, string> = {}
  const keyPositions = [...rest.matchAll(/(?:^| )([A-Za-z0-9_]+)=/g)].filter((m) => {
    // An `=` preceded by an odd number of backslashes is escaped, never a key separator.
    const before = rest.slice(0, m.index! + m[0].length - 1)
    return ((/\\*$/.exec(before)?.[0].length ?? 0) % 2) === 0
  })
  keyPositions.forEach((m, k) => {
    const start = m.index! + m[0].length
    const end = k + 1 < keyPositions.length ? keyPositions[k + 1]!.index! : rest.length
    ext[m[1]!] = rest.slice(start, end).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c))
  })
  return { header, ext }
}

describe('formatCef', () => {
  it('writes the header and the dictionary keys of a login failure', () => {
    const line = formatCef(payloadWith(), device)
    expect(line.startsWith('CEF:0|authtrail|authtrail|0.1.0|login_failed|Login failed|5|rt=1795428000000 ')).toBe(true)
    const { ext } = parseCef(line)
    expect(ext).toMatchObject({
      rt: '1795428000000',
      act: 'login_failed',
      outcome: 'failure',
      reason: 'invalid_credentials',
      cat: 'authentication',
      duser: 'alice@example.com',
      duid: 'u-1',
      src: '203.0.113.7',
      requestClientApplication: 'Mozilla/5.0',
      externalId: '0192f0c1-7d3a-7c4e-8a1b-2f3c4d5e6f70',
      cs1Label: 'tenant',
      cs1: 'acme',
      cs3Label: 'channel',
      cs3: 'web',
      cs4Label: 'chainHash',
      cs4: 'e'.repeat(64),
      cn1Label: 'sequence',
      cn1: '42',
      cn2Label: 'shard',
      cn2: '3',
      cn3Label: 'riskScore',
      cn3: '10',
    })
    // Null fields are left out with their labels: an empty value is an error for strict parsers.
    expect(ext).not.toHaveProperty('cs2')
    expect(ext).not.toHaveProperty('cs2Label')
    expect(ext).not.toHaveProperty('suid')
    expect(ext).not.toHaveProperty('flexString2')
    expect(ext).not.toHaveProperty('dvchost')
  })

  it('escapes hostile header fields: backslash and pipe escaped, CR/LF replaced, equals literal', () => {
    const line = formatCef(payloadWith(), { deviceVendor: 'a|b\\c=d', deviceProduct: 'x\r\ny', deviceVersion: '1' })
    expect(line.startsWith('CEF:0|a\\|b\\\\c=d|x  y|1|')).toBe(true)
    expect(escapeCefHeader('|\\=\n')).toBe('\\|\\\\= ')
  })

  it('escapes hostile extension values and they round-trip', () => {
    const hostile = 'a=b\\c|d\ne\rf \\= \\n x=y'
    const line = formatCef(payloadWith({ identifier: hostile, reason: 'end\\' }), device)
    expect(line).toContain('duser=a\\=b\\\\c|d\\ne\\rf \\\\\\= \\\\n x\\=y ')
    expect(line).not.toMatch(/[\r\n]/)
    const { ext } = parseCef(line)
    expect(ext.duser).toBe(hostile)
    expect(ext.reason).toBe('end\\')
    expect(escapeCefExtensionValue('|')).toBe('|')
  })

  it('keeps non-ASCII text intact', () => {
    const line = formatCef(payloadWith({ identifier: 'jörg😀@exämple.com', user_agent: 'Ünïcødé 🚀' }), device)
    const { ext } = parseCef(line)
    expect(ext.duser).toBe('jörg😀@exämple.com')
    expect(ext.requestClientApplication).toBe('Ünïcødé 🚀')
  })

  it('writes IPv6 in RFC 5952 form into src and into c6a2 with its label, and unwraps IPv4-mapped addresses', () => {
    const v6 = parseCef(formatCef(payloadWith({ ip: '2001:DB8:0:0:0:0:0:ABCD' }), device)).ext
    expect(v6).toMatchObject({ src: '2001:db8::abcd', c6a2Label: 'Source IPv6 Address', c6a2: '2001:db8::abcd' })
    expect(parseCef(formatCef(payloadWith({ ip: '::ffff:198.51.100.2' }), device)).ext.src).toBe('198.51.100.2')
    expect(parseCef(formatCef(payloadWith({ ip: '::ffff:198.51.100.2' }), device)).ext).not.toHaveProperty('c6a2')
    const canonical = (ip: string) => classifySourceAddress(ip)?.value
    // RFC 5952 §4: leading zeros dropped, the longest run of zero groups compressed (the first of equals),
    // a single zero group not compressed, lower case.
    expect(canonical('2001:0db8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1')
    expect(canonical('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1')
    expect(canonical('2001:db8:0:0:1:0:0:0')).toBe('2001:db8:0:0:1::')
    expect(canonical('0:0:0:0:0:ffff:c000:0280')).toBe('192.0.2.128')
    expect(canonical('::1')).toBe('::1')
    expect(classifySourceAddress('not an ip')).toBeNull()
    expect(classifySourceAddress('1.2.3.256')).toBeNull()
    expect(classifySourceAddress('1::2::3')).toBeNull()
    expect(classifySourceAddress('fe80::1%eth0')).toBeNull()
    expect(classifySourceAddress('fe80::1')).toEqual({ family: 6, value: 'fe80::1' })
  })

  it('pictures control characters, leaves out blank values, and sends the typed identifier beside the normalised one', () => {
    const payload = payloadWith({ identifier: 'admin\x1b[31m\x07', device_id: '   ', user_agent: 'tab\there\x7f', reason: '\t' })
    payload.event.metadata = { failed_attempts: 1, locked_until: null, identifier_as_typed: ' ADMIN\x1b[31m\x07' }
    const line = formatCef(payload, { ...device, deviceHost: 'auth-1' })
    expect(line).not.toMatch(/[\x00-\x1f\x7f]/)
    const { ext } = parseCef(line)
    expect(ext.duser).toBe('admin\u241b[31m\u2407')
    expect(ext).toMatchObject({ flexString2Label: 'identifierAsTyped', flexString2: ' ADMIN\u241b[31m\u2407', dvchost: 'auth-1' })
    expect(ext.requestClientApplication).toBe('tab\u2409here\u2421')
    expect(ext).not.toHaveProperty('cs5')
    expect(ext).not.toHaveProperty('cs5Label')
    expect(ext).not.toHaveProperty('reason')
    expect(escapeCefHeader('a\x1bb')).toBe('a\u241bb')
    expect(cefReadBack('x\x07')).toBe('x\u2407')
  })

  it('truncates over-long values to the key limit in code points, before escaping', () => {
    // 41 emoji for externalId (limit 40): the cut lands between surrogate pairs, never inside one.
    const longId = '😀'.repeat(41)
    // 1023-char reason limit, with an escape right at the boundary: truncation precedes escaping.
    const reason = `${'r'.repeat(1022)}==`
    const { ext } = parseCef(formatCef(payloadWith({ id: longId, reason, tenant_id: 't'.repeat(5000) }), device))
    // A cut value ends with the marker, counted in the limit.
    expect(ext.externalId).toBe(`${'😀'.repeat(39)}…`)
    expect(ext.reason).toBe(`${'r'.repeat(1022)}…`)
    expect(ext.cs1).toHaveLength(4000)
    expect(ext.cs1!.endsWith('t…')).toBe(true)
    expect(truncateToCodePoints('a😀b', 2)).toBe('a😀')
    expect(truncateWithMarker('abc', 3)).toBe('abc')
    expect(truncateWithMarker('abcd', 3)).toBe('ab…')
  })

  it('labels custom fields and carries the lockout end and the actor', () => {
    const payload = payloadWith({
      event_type: 'account_locked',
      organisation_id: 'org-9',
      device_id: 'dev-1',
      token_jti: 'jti-1',
      actor_id: 'admin-7',
    })
    payload.lockout = {
      tenant_id: 'acme',
      identifier: 'alice@example.com',
      user_id: 'u-1',
      failed_login_attempts: 5,
      account_locked_until: '2026-11-23T10:15:00.000Z',
      last_failed_at: '2026-11-23T10:00:00.000Z',
      lockout_count: 1,
      shard: 3,
      seq: 42,
    }
    const line = formatCef(payload, device)
    expect(line).toContain('|account_locked|Account locked|8|')
    expect(parseCef(line).ext).toMatchObject({
      cs2Label: 'organisation',
      cs2: 'org-9',
      cs5Label: 'deviceId',
      cs5: 'dev-1',
      cs6Label: 'tokenJti',
      cs6: 'jti-1',
      suid: 'admin-7',
      flexDate1Label: 'lockedUntil',
      flexDate1: String(Date.parse('2026-11-23T10:15:00.000Z')),
    })
  })

  it('has a severity and a name for every event type, and nothing else', () => {
    expect(Object.keys(CEF_SEVERITY).sort()).toEqual([...EVENT_TYPES].sort())
    expect(Object.keys(CEF_EVENT_NAME).sort()).toEqual([...EVENT_TYPES].sort())
    for (const s of Object.values(CEF_SEVERITY)) expect(s).toBeGreaterThanOrEqual(0)
    for (const s of Object.values(CEF_SEVERITY)) expect(s).toBeLessThanOrEqual(10)
  })
})

describe('formatSyslog5424', () => {
  it('frames the CEF message with facility authpriv and MSGID = event type', () => {
    const line = formatSyslog5424(payloadWith(), device, { hostname: 'auth-1', appName: 'authtrail', procId: '77' })
    // dvchost names the syslog HOSTNAME.
    expect(line).toBe(`<85>1 2026-11-23T10:00:00.000Z auth-1 authtrail 77 login_failed - ${formatCef(payloadWith(), { ...device, deviceHost: 'auth-1' })}`)
  })

  it('derives PRI from the CEF severity', () => {
    const pri = (type: ChainedEvent['event_type']) =>
      formatSyslog5424(payloadWith({ event_type: type }), device, { hostname: 'h', appName: 'a' }).split('>')[0]
    expect(pri('account_locked')).toBe('<84') // authpriv.warning
    expect(pri('login_success')).toBe('<86') // authpriv.info
    expect(syslogSeverityForCef(10)).toBe(2)
  })

  it('sanitises header tokens and uses NILVALUE for empty ones', () => {
    const line = formatSyslog5424(payloadWith(), device, { hostname: 'bad host\n', appName: '' })
    expect(line).toMatch(/^<85>1 2026-11-23T10:00:00.000Z badhost - - login_failed - CEF:0\|/)
  })
})

describe('octet counting', () => {
  it('counts UTF-8 bytes, not characters', () => {
    expect(utf8ByteLength('ö')).toBe(2)
    expect(utf8ByteLength('😀')).toBe(4)
    expect(utf8ByteLength('€')).toBe(3)
    expect(utf8ByteLength('\ud800x')).toBe(4) // lone surrogate encodes as U+FFFD
    const message = 'Jörg 😀 €'
    expect(utf8ByteLength(message)).toBe(new TextEncoder().encode(message).length)
    expect(frameOctetCounted(message)).toBe(`14 ${message}`)
  })

  it('truncates to a byte budget on a character boundary without leaving half an escape', () => {
    expect(truncateToUtf8Bytes('aö', 2)).toBe('a')
    expect(truncateToUtf8Bytes('a😀', 4)).toBe('a')
    expect(truncateToUtf8Bytes('ab\\=c', 3)).toBe('ab')
    expect(truncateToUtf8Bytes('a\\\\b', 3)).toBe('a\\\\')
    expect(truncateToUtf8Bytes('short', 100)).toBe('short')
  })
})

describe('truncateCefMessage', () => {
  it('cuts to any byte budget, still parses, marks the cut value and says the datagram was cut', () => {
    const payload = payloadWith({ identifier: 'a=b\\c ö😀 x=y\n', reason: 'why = because\\', user_agent: 'UA 😀 '.repeat(20) })
    const full = formatSyslog5424(payload, device, { hostname: 'h', appName: 'a' })
    const original = parseCef(full.slice(full.indexOf('CEF:')))
    const keys = Object.keys(original.ext)
    const headerEnd = full.indexOf('|rt=') + 1
    // Every budget from just past the header to the whole message, several hundred of them: the checks are
    // collected and compared once (an expect per check per budget made this the core's slowest test).
    const problems: string[] = []
    let cuts = 0
    for (let max = utf8ByteLength(full.slice(0, headerEnd)) + 40; max <= utf8ByteLength(full) + 1; max++) {
      const cut = truncateCefMessage(full, max)
      if (utf8ByteLength(cut) > max) problems.push(`${max}: ${utf8ByteLength(cut)} bytes`)
      if (cut === full) continue
      cuts++
      const { header, ext } = parseCef(cut.slice(cut.indexOf('CEF:')))
      if (JSON.stringify(header) !== JSON.stringify(original.header)) problems.push(`${max}: header ${JSON.stringify(header)}`)
      if (ext.msg !== `datagram truncated to ${max} bytes`) problems.push(`${max}: msg=${ext.msg}`)
      const kept = Object.keys(ext).filter((k) => k !== 'msg')
      if (Object.keys(ext).at(-1) !== 'msg') problems.push(`${max}: msg is not the last key`)
      if (kept.some((k, i) => k !== keys[i])) problems.push(`${max}: keys ${kept.join(',')}`)
      for (const k of kept) {
        if (ext[k] === '') problems.push(`${max}: ${k} empty`)
        if (k !== kept.at(-1) && ext[k] !== original.ext[k]) problems.push(`${max}: ${k}=${ext[k]}`)
      }
      const last = kept.at(-1)
      if (last !== undefined && ext[last] !== original.ext[last]) {
        if (!ext[last]!.endsWith('…') || !original.ext[last]!.startsWith(ext[last]!.slice(0, -1))) problems.push(`${max}: ${last}=${ext[last]} cut without its marker`)
      }
    }
    expect(problems).toEqual([])
    expect(cuts).toBeGreaterThan(100)
    expect(truncateCefMessage(full, 100_000)).toBe(full)
  })
})
