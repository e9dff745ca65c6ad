import type { ChainedEvent, LockoutSnapshot, OutboxPayload, UnsequencedEvent } from '../../src/core/auth-event.ts'
import { appendToChain, genesisHash } from '../../src/core/chain.ts'
import { uuidv7 } from '../../src/core/ids.ts'

const DAY_MS = 86_400_000
/** A fixed instant, so that tests choose "now" relative to the fixtures rather than the wall clock. */
export const FIXTURE_EPOCH = new Date('2026-11-23T10:00:00.000Z')

/** An unsequenced login failure with every optional field filled, so that round trips exercise them all. */
export function makeUnsequencedEvent(overrides: Partial<UnsequencedEvent> = {}): UnsequencedEvent {
  const occurredAt = overrides.occurred_at ?? FIXTURE_EPOCH.toISOString()
  return {
    id: uuidv7(),
    tenant_id: crypto.randomUUID(),
    organisation_id: crypto.randomUUID(),
    event_type: 'login_failed',
    channel: 'web',
    user_id: crypto.randomUUID(),
    identifier: 'alice@example.com',
    ip: '203.0.113.7',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0',
    device_id: 'dev-1',
    occurred_at: occurredAt,
    outcome: 'failure',
    reason: 'invalid_credentials',
    risk: { score: 35, signals: ['new_device', 'ünïcode'] },
    metadata: { failed_attempts: 2, nested: { list: [1, 2.5, 'x', null, true], big: 2 ** 40 }, empty: {} },
    token_jti: null,
    actor_id: null,
    expires_at: new Date(Date.parse(occurredAt) + 365 * DAY_MS).toISOString(),
    ...overrides,
  }
}

/**
 * Chains events of one (tenant, shard) from its genesis, one second apart from `start`. Each entry
 * overrides fields of a default event; `tenant_id` is forced to the chain's.
 */
export function makeChain(
  tenantId: string,
  shard: number,
  overrides: Partial<UnsequencedEvent>[],
  start: Date = FIXTURE_EPOCH,
): ChainedEvent[] {
  const events = overrides.map((o, i) =>
    makeUnsequencedEvent({ occurred_at: new Date(start.getTime() + i * 1000).toISOString(), ...o, tenant_id: tenantId }),
  )
  return appendToChain(events, { shard, lastSeq: 0, headHash: genesisHash(tenantId, shard) }).chained
}

/** The lockout snapshot an event carries, positioned at that event. */
export function makeLockoutSnapshot(event: ChainedEvent, overrides: Partial<LockoutSnapshot> = {}): LockoutSnapshot {
  return {
    tenant_id: event.tenant_id,
    identifier: event.identifier ?? 'alice@example.com',
    user_id: event.user_id,
    failed_login_attempts: event.seq,
    account_locked_until: null,
    last_failed_at: event.occurred_at,
    lockout_count: 0,
    shard: event.shard,
    seq: event.seq,
    ...overrides,
  }
}

/** Outbox payloads for events, with no lockout snapshot. */
export function payloads(events: readonly ChainedEvent[]): OutboxPayload[] {
  return events.map((event) => ({ event, lockout: null }))
}
