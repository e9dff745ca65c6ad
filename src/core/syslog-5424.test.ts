import { describe, expect, it } from 'vitest'
import { outboxPayload } from '../../test/support/outbox-payload.ts'
import type { OutboxPayload } from './auth-event.ts'
import { formatSyslog5424 } from './syslog-5424.ts'

// The RFC 5424 header a sender chooses: its length limits, and the host CEF's dvchost names.

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }

const payload = (): OutboxPayload => outboxPayload({ shard: 0, seq: 1, user_id: null, identifier: 'alice', ip: null, user_agent: null, risk: { score: 0, signals: [] } })

describe('formatSyslog5424 header fields', () => {
  it('cuts HOSTNAME to 255, APP-NAME to 48 and PROCID to 128 characters (RFC 5424 §6)', () => {
    const line = formatSyslog5424(payload(), device, { hostname: 'h'.repeat(300), appName: 'a'.repeat(60), procId: 'p'.repeat(200) })
    const [, , hostname, appName, procId] = line.split(' ')
    expect([hostname!.length, appName!.length, procId!.length]).toEqual([255, 48, 128])
  })

  it('names the syslog host as dvchost, unless the device names its own, and leaves dvchost out when there is no host', () => {
    const dvchost = (line: string) => /(?:^|\s)dvchost=(\S+)/.exec(line.slice(line.indexOf('CEF:')))?.[1]
    expect(dvchost(formatSyslog5424(payload(), device, { hostname: 'auth-1', appName: 'a' }))).toBe('auth-1')
    expect(dvchost(formatSyslog5424(payload(), { ...device, deviceHost: 'node-7' }, { hostname: 'auth-1', appName: 'a' }))).toBe('node-7')
    expect(dvchost(formatSyslog5424(payload(), device, { hostname: ' \n', appName: 'a' }))).toBeUndefined()
  })
})
