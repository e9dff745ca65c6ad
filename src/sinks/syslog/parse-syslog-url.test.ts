import { describe, expect, it } from 'vitest'
import { parseSyslogUrl } from './parse-syslog-url.ts'

describe('parseSyslogUrl', () => {
  it('reads each transport with its port, or the usual one', () => {
    expect(parseSyslogUrl('tcp://127.0.0.1:1514')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1514 })
    expect(parseSyslogUrl('udp://logs.example.com')).toEqual({ kind: 'udp', host: 'logs.example.com', port: 514 })
    expect(parseSyslogUrl('tls://[::1]')).toEqual({ kind: 'tls', host: '::1', port: 6514 })
    expect(parseSyslogUrl('relp://siem.example.com')).toEqual({ kind: 'relp', host: 'siem.example.com', port: 2514 })
    expect(parseSyslogUrl('relp+tls://[2001:db8::1]:20514')).toEqual({ kind: 'relp+tls', host: '2001:db8::1', port: 20514 })
    expect(parseSyslogUrl('file:///var/log/authtrail.log')).toEqual({ kind: 'file', path: '/var/log/authtrail.log' })
  })

  it('refuses what it cannot send to', () => {
    expect(() => parseSyslogUrl('http://x:1')).toThrow(/must start with/)
    expect(() => parseSyslogUrl('tcp://h:0')).toThrow(/port 0/)
    expect(() => parseSyslogUrl('tcp://h:99999')).toThrow(/invalid/)
    expect(() => parseSyslogUrl('file://remote/x.log')).toThrow(/local path/)
    expect(() => parseSyslogUrl('not a url')).toThrow(/invalid/)
  })
})
