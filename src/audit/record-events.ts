import { EVENT_SCHEMAS, type ChainedEvent, type OutboxPayload, type RiskEvaluation, type UnsequencedEvent } from '../core/auth-event.ts'
import { appendToChain } from '../core/chain.ts'
import type { Digester } from '../core/digests.ts'
import type { Channel, EventMetadata, EventOutcome, EventReason, EventType } from '../core/event-types.ts'
import { shardFor } from '../core/identifier.ts'
import { uuidv7 } from '../core/ids.ts'
import { TENANT_SHARD, type ChainOwner } from '../core/tenancy.ts'
import { wellFormed, wellFormedJson, wellFormedOrNull } from '../core/well-formed.ts'
import type { Tx } from '../db/client.ts'
import { lockoutSnapshot, storeLockoutState, type LockoutWrite } from '../db/lockouts.ts'
import { authLogRowOf } from './stored-event.ts'

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
  /** The account's new lockout state, whose row the caller has locked: stored in the same statement as the events. */
  lockout?: LockoutWrite
  /** The chain, when it is not the drafts' own: a re-drive is recorded in the chain whose dead letters it re-delivered. */
  shard?: number
  digester?: Digester
}

/** Thrown inside a transaction when an event id exists already (a retried request): the caller's transaction rolls back whole. */
export class DuplicateEventError extends Error {
  override name = 'DuplicateEventError'
  constructor(readonly eventIds: string[]) {
    super('event already recorded')
  }
}

/** Thrown when a draft does not match its type's definition: a defect of the caller, never written. */
export class EventDefinitionError extends Error {
  override name = 'EventDefinitionError'
}

const DAY_MS = 86_400_000

/**
 * Records events of one tenant inside the caller's transaction: the one way events are written. Derives
 * each event's id (unless fixed), its time, its `expires_at` (from the tenant's retention, fixed at
 * ingestion: a later plan change never moves it) and its chain (the account's shard; the tenant shard for
 * events that name no identifier), makes every string well-formed Unicode, and checks each event against
 * its definition. Then appends them to the chain, in one statement with their outbox rows and, when given,
 * the account's new lockout state.
 *
 * A retried request whose event exists already throws DuplicateEventError, so that the caller's whole
 * transaction (chain head included) rolls back: a retry never leaves a gap or a duplicate.
 *
 * @example
 * await sql.begin((tx) => recordEvents(tx, tenant, [{ eventType: 'audit_exported', outcome: 'success', origin, metadata }], { now }))
 */
export async function recordEvents(tx: Tx, tenant: ChainOwner, drafts: readonly EventDraft[], options: RecordOptions): Promise<ChainedEvent[]> {
  const { now } = options
  const events = drafts.map((draft) => eventOfDraft(draft, tenant, now))
  const shard = options.shard ?? chainShardOf(events, tenant)
  return appendEvents(tx, { tenantId: tenant.id, shard }, events, options)
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

/**
 * Takes the chain head's row lock, numbers the events gaplessly, links their hashes, and in one statement
 * writes the auth_logs rows, the new head, one outbox row per event and the lockout state.
 */
async function appendEvents(
  tx: Tx,
  chain: { tenantId: string; shard: number },
  events: UnsequencedEvent[],
  options: RecordOptions,
): Promise<ChainedEvent[]> {
  const [head] = await tx<{ seq: number; head_hash: Uint8Array }[]>`
    UPDATE chain_heads SET seq = seq + ${events.length}
    WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard}
    RETURNING seq, head_hash`
  if (!head) throw new Error(`no chain head for tenant ${chain.tenantId} shard ${chain.shard}`)

  const { chained, headHash } = appendToChain(
    events,
    { shard: chain.shard, lastSeq: head.seq - events.length, headHash: new Uint8Array(head.head_hash) },
    options.digester,
  )
  const last = chained[chained.length - 1]!
  const { lockout } = options
  const snapshot = lockout ? { ...lockoutSnapshot(chain.tenantId, lockout), shard: chain.shard, seq: last.seq } : null

  const logRows = chained.map((e) => ({ ...authLogRowOf(e), risk: tx.json(e.risk as never), metadata: tx.json(e.metadata) }))
  const outboxRows = chained.map((e) => {
    const payload: OutboxPayload = { event: e, lockout: e === last ? snapshot : null }
    return { event_id: e.id, tenant_id: e.tenant_id, shard: e.shard, seq: e.seq, payload: tx.json(payload as never) }
  })

  // One round trip for all the writes; data-modifying CTEs all run even when not referenced.
  const [result] = await tx<{ inserted: number }[]>`
    WITH logs AS (
      INSERT INTO auth_logs ${tx(logRows)} ON CONFLICT (id) DO NOTHING RETURNING id
    ), head AS (
      UPDATE chain_heads SET head_hash = ${Buffer.from(headHash)}
      WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard}
    ), box AS (
      INSERT INTO outbox ${tx(outboxRows)} ON CONFLICT (event_id) DO NOTHING
    )${lockout ? tx`, state AS (${storeLockoutState(tx, chain.tenantId, lockout, options.now)})` : tx``}
    SELECT count(*)::int AS inserted FROM logs`
  if (result!.inserted !== chained.length) throw new DuplicateEventError(chained.map((e) => e.id))
  return chained
}
