import { describe, expect, it } from 'vitest'
import type { ChainedEvent, OutboxPayload } from './auth-event.ts'
import { formatSyslog5424 } from './syslog-5424.ts'

// The RFC 5424 header a sender chooses: its length limits, and the host CEF's dvchost names.

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }

function payload(): OutboxPayload {
  const event = {
    id: '0192f0c1-7d3a-7c4e-8a1b-2f3c4d5e6f70',
    tenant_id: 'acme',
    organisation_id: null,
    shard: 0,
    seq: 1,
    event_type: 'login_failed',
    channel: 'web',
    user_id: null,
    identifier: 'alice',
    ip: null,
    user_agent: null,
    device_id: null,
    occurred_at: '2026-11-23T10:00:00.000Z',
    outcome: 'failure',
    reason: 'invalid_credentials',
    risk: { score: 0, signals: [] },
    metadata: {},
    token_jti: null,
    actor_id: null,
    expires_at: '2027-11-23T10:00:00.000Z',
    digests: { sha256: 'a'.repeat(64), sha512: 'b'.repeat(128), sha3_256: 'c'.repeat(64) },
    prev_hash: 'd'.repeat(64),
    chain_hash: 'e'.repeat(64),
  } as ChainedEvent
  return { event, lockout: null }
}

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
