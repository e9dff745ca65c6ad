import { EVENT_SCHEMAS, type ChainedEvent, type RiskEvaluation, type UnsequencedEvent } from '../core/auth-event.ts'
import { canonicalEventParts } from '../core/canonical-json.ts'
import type { Channel, EventMetadata, EventOutcome, EventReason, EventType } from '../core/event-types.ts'
import { shardFor } from '../core/identifier.ts'
import { uuidv7 } from '../core/ids.ts'
import { TENANT_SHARD, type ChainOwner } from '../core/tenancy.ts'
import { wellFormed, wellFormedJson, wellFormedOrNull } from '../core/well-formed.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import { appendAuthEvents, type AppendAnswer, type AppendedEventInput } from '../db/append-auth-events.ts'
import type { DefenceWrite, StaleDefence } from '../db/ip-throttles.ts'
import { lockoutSnapshot, type LockoutWrite } from '../db/lockouts.ts'
import type { Queryable } from '../db/queryable.ts'
import { isUniqueViolation } from '../db/sqlstate.ts'
import type { SessionOpening } from '../db/sessions.ts'

/** Where an attempt came from: what the HTTP layer knows about the client, and nothing from the body. */
export interface RequestOrigin {
  ip: string | null
  userAgent: string | null
  deviceId: string | null
  channel: Channel
}

/**
 * An event to record, as its caller knows it: the type with the outcome, reason and metadata its catalog
 * entry allows (the compiler checks them; recordEvents checks them again), and who and what it concerns.
 * Time, expiry, chain position and, unless fixed, the id are recordEvents' to derive.
 */
export type EventDraft = { [T in EventType]: DraftOf<T> }[EventType]

type DraftOf<T extends EventType> = {
  eventType: T
  outcome: EventOutcome<T>
  origin: RequestOrigin
  /** Fixed only where a retried request must map to the same event (idempotency); otherwise a UUIDv7. */
  id?: string
  organisationId?: string | null
  userId?: string | null
  /** The attempted identifier: its account's chain shard holds the event. */
  identifier?: string | null
  risk?: RiskEvaluation
  tokenJti?: string | null
  actorId?: string | null
} & (null extends EventReason<T> ? { reason?: EventReason<T> } : { reason: EventReason<T> }) &
  ({} extends EventMetadata<T> ? { metadata?: EventMetadata<T> } : { metadata: EventMetadata<T> })

export interface RecordOptions {
  /** When the events occurred; also the lockout state's `updated_at`. */
  now: Date
  /** The account's new lockout state: stored in the same call as the events. */
  lockout?: LockoutWrite
  /** A login attempt's address state (throttle, account_ip lockout, known network), checked and stored in the same call. */
  defence?: DefenceWrite
  /** The chain, when it is not the drafts' own: a re-drive is recorded in the chain whose dead letters it re-delivered. */
  shard?: number
  /**
   * The events are changes of a user's role or status or of a tenant's settings, which the database makes
   * from the events themselves (apply_admin_events): the only way to make them, so never without their event.
   */
  applyChanges?: boolean
  /** A successful login's session, stored in the same call when the events are (with `defence` only). */
  openSession?: SessionOpening
}

/** Thrown inside a transaction when an event id exists already (a retried request): the caller's transaction rolls back whole. */
export class DuplicateEventError extends Error {
  override name = 'DuplicateEventError'
  constructor() {
    super('event already recorded')
  }
}

/** Thrown when a draft does not match its type's definition: a defect of the caller, never written. */
export class EventDefinitionError extends Error {
  override name = 'EventDefinitionError'
}

const DAY_MS = 86_400_000

/**
 * Records events of one tenant, inside the caller's transaction when given one: the one way events are written. Derives
 * each event's id (unless fixed), its time, its `expires_at` (from the tenant's retention, fixed at
 * ingestion: a later plan change never moves it) and its chain (the account's shard; the tenant shard for
 * events that name no identifier), makes every string well-formed Unicode, and checks each event against
 * its definition. Then appends them to the chain through the database's append function, in one call with
 * their outbox rows and, when given, the account's new lockout state.
 *
 * A retried request whose event exists already throws DuplicateEventError, so that the caller's whole
 * transaction (chain head included) rolls back: a retry never leaves a gap or a duplicate.
 *
 * @example
 * await sql.begin((tx) => recordEvents(tx, tenant, [{ eventType: 'audit_exported', outcome: 'success', origin, metadata }], { now }))
 */
export async function recordEvents(db: Queryable, tenant: ChainOwner, drafts: readonly EventDraft[], options: RecordOptions): Promise<ChainedEvent[]> {
  const recorded = await recordEventsChecked(db, tenant, drafts, options)
  if (recorded.kind !== 'recorded') throw new Error('lockout state reported stale although none was expected')
  return recorded.events
}

/** Recorded, or nothing written because the lockout row no longer held the state the caller decided on. */
export type RecordedOrStale =
  | { kind: 'recorded'; events: ChainedEvent[] }
  | { kind: 'stale'; lockout: LockoutState }
  /** The address state (RecordOptions.defence) was not what the caller decided on: these are the states found. */
  | { kind: 'stale_defence'; defence: StaleDefence }

/**
 * recordEvents for a caller that decided on a lockout state it read without a lock (the login): the
 * state is re-checked under the row lock, in the same call that appends. When the row holds another
 * state nothing is written and the answer is `stale` with the state found, to decide again on.
 *
 * @example
 * const recorded = await recordEventsChecked(sql, tenant, drafts, { now, lockout: { identifier, userId, state: next } }, snapshot)
 */
export async function recordEventsChecked(
  db: Queryable,
  tenant: ChainOwner,
  drafts: readonly EventDraft[],
  options: RecordOptions,
  expected?: LockoutState,
): Promise<RecordedOrStale> {
  const { now } = options
  const events = drafts.map((draft) => eventOfDraft(draft, tenant, now))
  const shard = options.shard ?? chainShardOf(events, tenant)
  return appendEvents(db, { tenantId: tenant.id, shard }, events, options, expected)
}

function eventOfDraft(draft: EventDraft, tenant: ChainOwner, now: Date): UnsequencedEvent {
  const event: UnsequencedEvent = {
    id: draft.id ?? uuidv7(now.getTime()),
    tenant_id: tenant.id,
    organisation_id: draft.organisationId ?? null,
    event_type: draft.eventType,
    channel: draft.origin.channel,
    user_id: draft.userId ?? null,
    identifier: wellFormedOrNull(draft.identifier ?? null),
    ip: draft.origin.ip,
    user_agent: wellFormedOrNull(draft.origin.userAgent),
    device_id: wellFormedOrNull(draft.origin.deviceId),
    occurred_at: now.toISOString(),
    outcome: draft.outcome,
    reason: wellFormedOrNull(draft.reason ?? null),
    risk: draft.risk ? { score: draft.risk.score, signals: draft.risk.signals.map(wellFormed) } : { score: 0, signals: [] },
    metadata: wellFormedJson(draft.metadata ?? {}),
    token_jti: draft.tokenJti ?? null,
    actor_id: draft.actorId ?? null,
    expires_at: new Date(now.getTime() + tenant.retentionDays * DAY_MS).toISOString(),
  }
  const checked = EVENT_SCHEMAS[event.event_type].safeParse({ ...event, shard: 0, seq: 1 })
  if (!checked.success) {
    const issue = checked.error.issues[0]!
    throw new EventDefinitionError(`${event.event_type} event does not match its definition: ${issue.path.join('.')}: ${issue.message}`)
  }
  return event
}

/** Every event of one call goes to one chain: the shard of the identifier they name, or the tenant shard. */
function chainShardOf(events: readonly UnsequencedEvent[], tenant: ChainOwner): number {
  const shards = new Set(events.map((e) => (e.identifier === null ? TENANT_SHARD : shardFor(e.identifier, tenant.chainShards))))
  if (shards.size !== 1) throw new Error('events recorded together must belong to one chain')
  return [...shards][0]!
}

/** The events with their canonical bytes around the sequence number, for the append function. */
function appendInputs(events: readonly UnsequencedEvent[], shard: number): AppendedEventInput[] {
  return events.map((event) => {
    const { head, tail } = canonicalEventParts({ ...event, shard })
    return { ...event, canonical_head: head, canonical_tail: tail }
  })
}

/**
 * Appends the events through append_auth_events(), which numbers, digests and links them under the
 * chain head's row lock and writes them with their outbox rows and the lockout state in one call.
 */
async function appendEvents(
  db: Queryable,
  chain: { tenantId: string; shard: number },
  events: UnsequencedEvent[],
  options: RecordOptions,
  expected?: LockoutState,
): Promise<RecordedOrStale> {
  const { lockout } = options
  let answer: AppendAnswer
  try {
    answer = await appendAuthEvents(db, {
      tenantId: chain.tenantId,
      shard: chain.shard,
      now: options.now,
      events: appendInputs(events, chain.shard),
      applyChanges: options.applyChanges,
      ...(lockout && {
        lockout: { identifier: lockout.identifier, userId: lockout.userId, next: lockout.state, snapshot: lockoutSnapshot(chain.tenantId, lockout), expected },
      }),
      ...(options.defence && { defence: options.defence }),
      ...(options.openSession && { session: options.openSession }),
    })
  } catch (error) {
    // Two tries of one request at once: the second finds the first's id when it inserts.
    if (isUniqueViolation(error, ['auth_logs_pkey', 'outbox_event_id_key'])) throw new DuplicateEventError()
    throw error
  }
  if (answer.status === 'duplicate') throw new DuplicateEventError()
  if (answer.status === 'stale') return { kind: 'stale', lockout: answer.lockout }
  if (answer.status === 'stale_defence') return { kind: 'stale_defence', defence: answer.defence }
  const chained = events.map((event, i): ChainedEvent => {
    const link = answer.events[i]!
    return {
      ...event,
      shard: chain.shard,
      seq: link.seq,
      digests: { sha256: link.sha256, sha512: link.sha512, sha3_256: link.sha3_256 },
      prev_hash: link.prev_hash,
      chain_hash: link.chain_hash,
    }
  })
  return { kind: 'recorded', events: chained }
}
