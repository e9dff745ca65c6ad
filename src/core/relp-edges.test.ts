import { describe, expect, it } from 'vitest'
import { createRelpDecoder, encodeRelpFrame, parseRelpResponse, RELP_MAX_TXNR, RelpProtocolError, relpOffersSyslog } from './relp.ts'

// The edges of RELP framing: the largest legal header, every token's syntax, and responses in each shape.

const bytes = (s: string) => new TextEncoder().encode(s)
const decode = (s: string) => createRelpDecoder().push(bytes(s))

describe('RELP frame encoding at its limits', () => {
  it('takes TXNR 0 (serverclose) up to 999,999,999 and refuses negative, fractional or larger ones, naming the TXNR', () => {
    expect(encodeRelpFrame(0, 'serverclose')).toBe('0 serverclose 0\n')
    expect(encodeRelpFrame(RELP_MAX_TXNR, 'rsp', '200 OK')).toBe('999999999 rsp 6 200 OK\n')
    for (const txnr of [-1, 1.5, RELP_MAX_TXNR + 1, Number.NaN]) {
      expect(() => encodeRelpFrame(txnr, 'syslog', 'x')).toThrow(new RangeError(`RELP TXNR out of range: ${txnr}`))
    }
  })

  it('refuses a command that is not 1 to 32 letters, naming it', () => {
    expect(encodeRelpFrame(1, 'a'.repeat(32))).toBe(`1 ${'a'.repeat(32)} 0\n`)
    expect(() => encodeRelpFrame(1, 'a'.repeat(33))).toThrow(new RangeError(`invalid RELP command: ${'a'.repeat(33)}`))
    expect(() => encodeRelpFrame(1, '')).toThrow(RangeError)
  })
})

describe('RELP frame decoding at its limits', () => {
  it('decodes the longest legal header (9-digit TXNR, 32-letter command, 9-digit DATALEN), whole or byte by byte', () => {
    const frame = `999999999 ${'c'.repeat(32)} 000000002 ok\n`
    const expected = [{ txnr: 999_999_999, command: 'c'.repeat(32), data: 'ok' }]
    expect(decode(frame)).toEqual(expected)
    const decoder = createRelpDecoder()
    expect([...bytes(frame)].flatMap((b) => decoder.push(Uint8Array.of(b)))).toEqual(expected)
  })

  it('waits for the data of a frame announcing the largest DATALEN instead of refusing it', () => {
    expect(decode('12 rsp 999999999 ')).toEqual([])
  })

  it('refuses a header token longer than any legal header as soon as it is seen, even with more bytes behind it', () => {
    expect(() => decode(`${'1'.repeat(80)} rsp 0\n`)).toThrow(/header too long/)
  })

  it('refuses each malformed token: TXNR and DATALEN digits only (1–9), the command letters only (1–32)', () => {
    for (const header of ['a1 rsp 0', '1a rsp 0', '1234567890 rsp 0', '1 1rsp 0', '1 rsp1 0', `1 ${'r'.repeat(33)} 0`, '1 rsp a0', '1 rsp 0a', '1 rsp 1234567890', '1 rs! 0', '1 rs~ 0']) {
      expect(() => decode(`${header}\n`), header).toThrow(new RelpProtocolError(`malformed RELP frame header: ${header}`))
    }
  })

  it('names an unprintable byte in a header', () => {
    expect(() => decode('1 rsp\x7f 0\n')).toThrow('unexpected byte 127 in a RELP frame header')
    expect(() => decode('1 r\u00e9sp 0\n')).toThrow('unexpected byte 195 in a RELP frame header')
    expect(() => decode('1 rsp\x00 0\n')).toThrow('unexpected byte 0 in a RELP frame header')
  })

  it('says how many bytes a frame announced without data, and that a frame lacks its LF', () => {
    expect(() => decode('1 rsp 5\n')).toThrow('RELP frame announces 5 bytes but has none')
    expect(() => decode('1 rsp 0 x')).toThrow('RELP frame without its trailing LF')
  })

  it('reads an empty frame written with a space before its LF, even when the LF arrives later', () => {
    const decoder = createRelpDecoder()
    expect(decoder.push(bytes('3 rsp 0 '))).toEqual([])
    expect(decoder.push(bytes('\n'))).toEqual([{ txnr: 3, command: 'rsp', data: '' }])
  })

  it('decodes multi-digit transaction numbers and replaces invalid UTF-8 in DATA rather than failing', () => {
    expect(createRelpDecoder().push(Uint8Array.of(...bytes('123 rsp 5 500 '), 0xff, 0x0a))).toEqual([{ txnr: 123, command: 'rsp', data: '500 \ufffd' }])
  })

  it('errors carry their name', () => {
    expect(() => decode('x rsp 0\n')).toThrow(expect.objectContaining({ name: 'RelpProtocolError' }))
  })
})

describe('RELP responses', () => {
  it('reads a status line alone, with and without text', () => {
    expect(parseRelpResponse('200 OK')).toEqual({ code: 200, message: 'OK', rest: '' })
    expect(parseRelpResponse('200')).toEqual({ code: 200, message: '', rest: '' })
  })

  it('keeps the offers after the first line', () => {
    expect(parseRelpResponse('200 OK\nrelp_version=0\ncommands=syslog')).toEqual({ code: 200, message: 'OK', rest: 'relp_version=0\ncommands=syslog' })
    expect(parseRelpResponse('\ncommands=syslog')).toEqual({ code: 0, message: '', rest: 'commands=syslog' })
  })

  it('reads a status only as exactly three digits at the start, then a space or nothing', () => {
    expect(parseRelpResponse('x200 OK').code).toBe(0)
    expect(parseRelpResponse('200OK').code).toBe(0)
    expect(parseRelpResponse('2000 OK').code).toBe(0)
  })

  it('accepts syslog only from a 200 open response listing it as a whole command, first, among others or last', () => {
    const offers = (rest: string, status = '200 OK') => relpOffersSyslog(parseRelpResponse(`${status}\n${rest}`))
    expect(offers('commands=syslog')).toBe(true)
    expect(offers('commands=open,close,syslog')).toBe(true)
    expect(offers('commands=syslog,close')).toBe(true)
    expect(offers('relp_version=0\ncommands=syslog\nrelp_software=x')).toBe(true)
    expect(offers('commands=syslog', '500 busy')).toBe(false)
    expect(offers('commands=syslogx')).toBe(false)
    expect(offers('commands=xsyslog')).toBe(false)
    expect(offers('xcommands=syslog')).toBe(false)
  })
})
