import { describe, expect, it } from 'vitest'
import type { AuthEvent } from './auth-event.ts'
import { canonicalEventJson, canonicalJson } from './canonical-json.ts'

const base: AuthEvent = {
  id: '01900000-0000-7000-8000-000000000001',
  tenant_id: '01900000-0000-7000-8000-000000000002',
  organisation_id: null,
  shard: 15,
  seq: 9_007_199_254_740_991,
  event_type: 'login_failed',
  channel: 'mobile',
  user_id: null,
  identifier: 'alice@example.com',
  ip: '2001:db8::1',
  user_agent: 'UA',
  device_id: 'ios-1',
  occurred_at: '2026-11-23T03:19:27.123Z',
  outcome: 'failure',
  reason: 'invalid_credentials',
  risk: { score: 55, signals: ['unknown_identifier', 'repeated_failures'] },
  metadata: { failed_attempts: 3, locked_until: null, z: { b: [1, 2.5, -0, 1e21], a: 'x' } },
  token_jti: null,
  actor_id: null,
  expires_at: '2027-11-23T03:19:27.123Z',
}

describe('canonicalEventJson', () => {
  it('matches the general RFC 8785 implementation byte for byte, hostile values included', () => {
    const hostile: Partial<AuthEvent>[] = [
      {},
      { identifier: 'quote" backslash\\ newline\n tab\t nul\u0000 del\u007f', user_agent: 'ünïcödé 𝄞 \u2028\u2029 \ufffd' },
      { metadata: { 'é': 1, e: 2, E: 3, '': 4, '\u0000': 5, '𝄞': 6, 'ｚ': 7 }, risk: { score: 0, signals: [] } },
      { organisation_id: 'x', user_id: 'y', token_jti: 'j', actor_id: 'a', device_id: null, reason: null, ip: null, seq: 0, shard: 0 },
    ]
    for (const patch of hostile) {
      const event = { ...base, ...patch }
      expect(canonicalEventJson(event)).toBe(canonicalJson(event))
    }
  })

  it('refuses a lone surrogate, as the general implementation does (drafting replaces them first)', () => {
    const event = { ...base, user_agent: 'bad \ud800' }
    expect(() => canonicalJson(event)).toThrow()
    expect(() => canonicalEventJson(event)).toThrow(TypeError)
  })

  it('refuses numbers that JSON cannot carry exactly', () => {
    expect(() => canonicalEventJson({ ...base, seq: 2 ** 60 })).toThrow(TypeError)
  })
})

describe('canonicalJson', () => {
  it('refuses what JSON cannot represent instead of returning nothing', () => {
    expect(() => canonicalJson(undefined)).toThrow(new TypeError('value cannot be canonicalised'))
    expect(() => canonicalJson(() => 1)).toThrow(TypeError)
    expect(canonicalJson({ b: [1, 'x'], a: null })).toBe('{"a":null,"b":[1,"x"]}')
  })

  it('says why an event cannot be canonicalised', () => {
    expect(() => canonicalEventJson({ ...base, reason: 'bad \udc00' })).toThrow(new TypeError('Lone surrogate is not allowed'))
    expect(() => canonicalEventJson({ ...base, shard: 1.5 })).toThrow(new TypeError('not a safe integer: 1.5'))
  })
})
