import type { ChainedEvent, OutboxPayload } from '../../src/core/auth-event.ts'

/**
 * An outbox payload for the core's formatter tests: a chained failed login with every field set to a
 * plain value, `overrides` replacing any of them.
 */
export function outboxPayload(overrides: Partial<ChainedEvent> = {}): OutboxPayload {
  const event = {
    id: '0192f0c1-7d3a-7c4e-8a1b-2f3c4d5e6f70',
    tenant_id: 'acme',
    organisation_id: null,
    shard: 3,
    seq: 42,
    event_type: 'login_failed',
    channel: 'web',
    user_id: 'u-1',
    identifier: 'alice@example.com',
    ip: '203.0.113.7',
    user_agent: 'Mozilla/5.0',
    device_id: null,
    occurred_at: '2026-11-23T10:00:00.000Z',
    outcome: 'failure',
    reason: 'invalid_credentials',
    risk: { score: 10, signals: [] },
    metadata: {},
    token_jti: null,
    actor_id: null,
    expires_at: '2027-11-23T10:00:00.000Z',
    digests: { sha256: 'a'.repeat(64), sha512: 'b'.repeat(128), sha3_256: 'c'.repeat(64) },
    prev_hash: 'd'.repeat(64),
    chain_hash: 'e'.repeat(64),
    ...overrides,
  } as ChainedEvent
  return { event, lockout: null }
}
