import { recordEvents, type EventDraft } from '../../src/audit/record-events.ts'
import type { ChainedEvent, JsonObject } from '../../src/core/auth-event.ts'
import type { Channel, EventType, Outcome } from '../../src/core/event-types.ts'
import type { ChainOwner } from '../../src/core/tenancy.ts'
import type { Sql, Tx } from '../../src/db/client.ts'

export interface TestEventInput {
  eventType?: EventType
  outcome?: Outcome
  channel?: Channel
  identifier?: string | null
  userId?: string | null
  organisationId?: string | null
  ip?: string | null
  userAgent?: string | null
  reason?: string | null
  /** When it occurred; now by default. */
  at?: Date
  metadata?: JsonObject
  /** The chain shard, when not the identifier's own. */
  shard?: number
}

const MINUTE = 60_000

/** What a real event of each type carries, where the input says nothing: a test event is a valid event. */
function defaultsOf(type: EventType, at: Date): { outcome: Outcome; reason: string | null; metadata: JsonObject } {
  switch (type) {
    case 'login_failed':
      return { outcome: 'failure', reason: 'invalid_credentials', metadata: { failed_attempts: 1, locked_until: null } }
    case 'login_success':
      return { outcome: 'success', reason: null, metadata: { token_expires_at: new Date(at.getTime() + 60 * MINUTE).toISOString() } }
    case 'account_locked':
      return {
        outcome: 'failure',
        reason: 'too_many_failures',
        metadata: { failed_attempts: 5, locked_until: new Date(at.getTime() + 5 * MINUTE).toISOString(), lockout_count: 1, lock_duration_seconds: 300 },
      }
    case 'lockout_reset':
      return { outcome: 'success', reason: 'login_succeeded', metadata: { previous_failed_attempts: 1, lockout_count: 0 } }
    default:
      throw new Error(`no test defaults for ${type}: give outcome, reason and metadata`)
  }
}

/** Records one test event inside the caller's transaction, through the real write path (recordEvents). */
export async function recordTestEvent(tx: Tx, tenant: ChainOwner, input: TestEventInput = {}): Promise<ChainedEvent> {
  const at = input.at ?? new Date()
  const eventType = input.eventType ?? 'login_failed'
  const defaults = defaultsOf(eventType, at)
  const draft = {
    eventType,
    outcome: input.outcome ?? defaults.outcome,
    reason: input.reason === undefined ? defaults.reason : input.reason,
    metadata: input.metadata ?? defaults.metadata,
    origin: { ip: input.ip ?? null, userAgent: input.userAgent === undefined ? 'vitest' : input.userAgent, deviceId: null, channel: input.channel ?? 'web' },
    organisationId: input.organisationId ?? null,
    userId: input.userId ?? null,
    identifier: input.identifier ?? null,
  } as EventDraft
  const [event] = await recordEvents(tx, tenant, [draft], { now: at, shard: input.shard })
  return event!
}

/**
 * Records events through the real write path, one committed transaction each, without the cost of a
 * password check per event; returns them in order.
 */
export async function recordTestEvents(sql: Sql, tenant: ChainOwner, inputs: readonly TestEventInput[]): Promise<ChainedEvent[]> {
  const events: ChainedEvent[] = []
  for (const input of inputs) events.push(await sql.begin((tx) => recordTestEvent(tx, tenant, input)))
  return events
}
