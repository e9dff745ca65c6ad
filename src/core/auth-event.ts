import { z } from 'zod'
import {
  CHANNELS,
  EVENT_TYPES,
  mapEventTypes,
  OUTCOMES,
  type EventMetadata,
  type EventOutcome,
  type EventReason,
  type EventType,
} from './event-types.ts'

/** JSON values allowed in `risk` and `metadata`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

/** A risk evaluation: a 0–100 score and the named signals that produced it. */
export const RiskSchema = z.object({ score: z.number(), signals: z.array(z.string()) })
export type RiskEvaluation = z.output<typeof RiskSchema>

/**
 * The fields every audit event has, exactly the ones that are canonicalised and hashed. Field names are
 * the wire and storage names (snake_case); the TypeScript type, the OpenAPI schema of investigated
 * events, the auth_logs row, the document and the export are all derived from this. Nothing here may
 * hold a password, a raw token or a request body.
 *
 * The field types are deliberately plain: a stored event is whatever was hashed, also by an earlier
 * version. What each type adds (its outcome, reason and metadata) is its catalog entry's, checked by
 * EVENT_SCHEMAS when the event is recorded.
 */
export const AuthEventSchema = z.object({
  id: z.string().uuid(),
  tenant_id: z.string(),
  organisation_id: z.string().nullable(),
  shard: z.number().int(),
  seq: z.number().int(),
  event_type: z.enum(EVENT_TYPES),
  channel: z.enum(CHANNELS),
  user_id: z.string().nullable(),
  identifier: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  device_id: z.string().nullable(),
  occurred_at: z.string(),
  outcome: z.enum(OUTCOMES),
  reason: z.string().nullable(),
  risk: RiskSchema,
  metadata: z.record(z.string(), z.unknown()),
  token_jti: z.string().nullable(),
  actor_id: z.string().nullable(),
  expires_at: z.string(),
})

/** One field of every event. */
export type EventField = keyof typeof AuthEventSchema.shape
/** The fields of every event, in definition order. */
export const EVENT_FIELDS = Object.keys(AuthEventSchema.shape) as EventField[]

/** One audit event as stored and hashed; its metadata is any JSON object until read by its type. */
export type AuthEvent = Omit<z.output<typeof AuthEventSchema>, 'metadata'> & { metadata: JsonObject }

/** An event of one type, with the outcome, reason and metadata its catalog entry allows. */
export type AuthEventOf<T extends EventType> = {
  [K in T]: Omit<AuthEvent, 'event_type' | 'outcome' | 'reason' | 'metadata'> & {
    event_type: K
    outcome: EventOutcome<K>
    reason: EventReason<K>
    metadata: EventMetadata<K>
  }
}[T]

/** The full schema of an event of each type: the common fields with the type's outcome, reason and metadata. */
export const EVENT_SCHEMAS = mapEventTypes((definition, type) =>
  AuthEventSchema.extend({ event_type: z.literal(type), outcome: definition.outcome, reason: definition.reason, metadata: definition.metadata }),
)

/** An event before it takes its place in a chain. */
export type UnsequencedEvent = Omit<AuthEvent, 'shard' | 'seq'>

/** The three FIPS 180-4 / FIPS 202 digests of an event's canonical form, hex encoded. */
export interface EventDigests {
  sha256: string
  sha512: string
  sha3_256: string
}

/** What chaining adds to an event: its digests and its link. */
export interface ChainLink {
  digests: EventDigests
  prev_hash: string
  chain_hash: string
}

/** An event with its digests and its link in the chain: what is stored and what is replicated. */
export interface ChainedEvent extends AuthEvent, ChainLink {}

/**
 * The lockout state of one identifier right after an event, carried in the outbox so that the document
 * store can mirror it. `shard`/`seq` order snapshots: a snapshot never overwrites a newer one.
 */
export interface LockoutSnapshot {
  tenant_id: string
  identifier: string
  user_id: string | null
  failed_login_attempts: number
  account_locked_until: string | null
  last_failed_at: string | null
  lockout_count: number
  shard: number
  seq: number
}

/** What one outbox row carries to the sinks. */
export interface OutboxPayload {
  event: ChainedEvent
  lockout: LockoutSnapshot | null
}
