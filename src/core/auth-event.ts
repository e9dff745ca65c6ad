import type { Channel, EventType, Outcome } from './event-types.ts'

/** JSON values allowed in `risk` and `metadata`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

/** A risk evaluation: a 0–100 score and the named signals that produced it. */
export interface RiskEvaluation {
  score: number
  signals: string[]
}

/**
 * One audit event, exactly the fields that are canonicalised and hashed. Field names are the wire and
 * storage names (snake_case). Nothing here may hold a password, a raw token or a request body.
 */
export interface AuthEvent {
  id: string
  tenant_id: string
  organisation_id: string | null
  shard: number
  seq: number
  event_type: EventType
  channel: Channel
  user_id: string | null
  identifier: string | null
  ip: string | null
  user_agent: string | null
  device_id: string | null
  occurred_at: string
  outcome: Outcome
  reason: string | null
  risk: RiskEvaluation
  metadata: JsonObject
  token_jti: string | null
  actor_id: string | null
  expires_at: string
}

/** An event before it takes its place in a chain. */
export type UnsequencedEvent = Omit<AuthEvent, 'shard' | 'seq'>

/** The three FIPS 180-4 / FIPS 202 digests of an event's canonical form, hex encoded. */
export interface EventDigests {
  sha256: string
  sha512: string
  sha3_256: string
}

/** An event with its digests and its link in the chain: what is stored and what is replicated. */
export interface ChainedEvent extends AuthEvent {
  digests: EventDigests
  prev_hash: string
  chain_hash: string
}

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
