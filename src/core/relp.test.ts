import { describe, expect, it } from 'vitest'
import {
  createRelpDecoder,
  encodeRelpFrame,
  nextRelpTxnr,
  parseRelpResponse,
  RELP_MAX_TXNR,
  RelpProtocolError,
  relpOffersSyslog,
  relpOpenOffers,
} from './relp.ts'

const bytes = (s: string) => new TextEncoder().encode(s)

describe('RELP frames', () => {
  it('counts DATALEN in UTF-8 bytes and writes no SP or DATA for an empty frame', () => {
    expect(encodeRelpFrame(2, 'syslog', '<85>1 - - - - - - Jörg')).toBe('2 syslog 23 <85>1 - - - - - - Jörg\n')
    expect(encodeRelpFrame(7, 'close')).toBe('7 close 0\n')
    expect(encodeRelpFrame(1, 'syslog', '😀')).toBe('1 syslog 4 😀\n')
  })

  it('refuses what is not a frame', () => {
    expect(() => encodeRelpFrame(RELP_MAX_TXNR + 1, 'syslog', 'x')).toThrow(RangeError)
    expect(() => encodeRelpFrame(1, 'sys log', 'x')).toThrow(RangeError)
  })

  it('wraps the transaction number from 999,999,999 to 1', () => {
    expect(nextRelpTxnr(0)).toBe(1)
    expect(nextRelpTxnr(41)).toBe(42)
    expect(nextRelpTxnr(RELP_MAX_TXNR)).toBe(1)
  })

  it('decodes frames split at every byte, data containing LF and multi-byte characters', () => {
    const stream = '1 rsp 93 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog\n' +
      '2 rsp 6 200 OK\n3 rsp 0\n0 serverclose 0\n4 rsp 14 500 Jörg 😀\n'
    const expected = [
      { txnr: 1, command: 'rsp', data: '200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog' },
      { txnr: 2, command: 'rsp', data: '200 OK' },
      { txnr: 3, command: 'rsp', data: '' },
      { txnr: 0, command: 'serverclose', data: '' },
      { txnr: 4, command: 'rsp', data: '500 Jörg 😀' },
    ]
    const whole = createRelpDecoder().push(bytes(stream))
    expect(whole).toEqual(expected)
    const decoder = createRelpDecoder()
    const all = bytes(stream)
    const oneByOne = [...all].flatMap((b) => decoder.push(Uint8Array.of(b)))
    expect(oneByOne).toEqual(expected)
  })

  it('fails on a malformed stream instead of guessing', () => {
    expect(() => createRelpDecoder().push(bytes('x rsp 0\n'))).toThrow(RelpProtocolError)
    expect(() => createRelpDecoder().push(bytes('1 rsp 2 abc\n'))).toThrow(/trailing LF/)
    expect(() => createRelpDecoder().push(bytes('1 rsp 5\n'))).toThrow(RelpProtocolError)
    expect(() => createRelpDecoder().push(bytes(`${'1'.repeat(80)}`))).toThrow(/too long/)
    expect(() => createRelpDecoder().push(bytes('1 r\tsp 0\n'))).toThrow(RelpProtocolError)
  })

  it('reads responses and the receiver offers', () => {
    const open = parseRelpResponse('200 OK\nrelp_version=0\nrelp_software=librelp\ncommands=syslog')
    expect(open).toMatchObject({ code: 200, message: 'OK' })
    expect(relpOffersSyslog(open)).toBe(true)
    expect(relpOffersSyslog(parseRelpResponse('200 OK\ncommands=other'))).toBe(false)
    expect(relpOffersSyslog(parseRelpResponse('500 no'))).toBe(false)
    expect(parseRelpResponse('garbage').code).toBe(0)
    expect(relpOpenOffers('authtrail,1.0\nx')).toBe('relp_version=0\nrelp_software=authtrail,1.0 x\ncommands=syslog')
  })
})
