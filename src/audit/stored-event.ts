import type { AuthEvent, ChainedEvent, JsonObject, RiskEvaluation } from '../core/auth-event.ts'
import type { StoredChainedEvent } from '../core/chain.ts'
import type { Channel, EventType, Outcome } from '../core/event-types.ts'

/** An auth_logs row as the `postgres` client returns it. */
export interface AuthLogRow {
  id: string
  tenant_id: string
  organisation_id: string | null
  shard: number
  seq: number
  event_type: string
  channel: string
  user_id: string | null
  identifier: string | null
  ip: string | null
  user_agent: string | null
  device_id: string | null
  occurred_at: Date
  outcome: string
  reason: string | null
  risk: RiskEvaluation
  metadata: JsonObject
  token_jti: string | null
  actor_id: string | null
  expires_at: Date
  digest_sha256: Uint8Array
  digest_sha512: Uint8Array
  digest_sha3_256: Uint8Array
  prev_hash: Uint8Array
  chain_hash: Uint8Array
}

/** The columns of an auth_logs row that hold the canonical event (all but the digests and links). */
export type EventColumns = Omit<AuthLogRow, 'digest_sha256' | 'digest_sha512' | 'digest_sha3_256' | 'prev_hash' | 'chain_hash'>

/** The canonical event a stored row claims to be: exactly the fields that were hashed. */
export function eventFromRow(row: EventColumns): AuthEvent {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    organisation_id: row.organisation_id,
    shard: row.shard,
    seq: row.seq,
    event_type: row.event_type as EventType,
    channel: row.channel as Channel,
    user_id: row.user_id,
    identifier: row.identifier,
    ip: row.ip,
    user_agent: row.user_agent,
    device_id: row.device_id,
    occurred_at: row.occurred_at.toISOString(),
    outcome: row.outcome as Outcome,
    reason: row.reason,
    risk: row.risk,
    metadata: row.metadata,
    token_jti: row.token_jti,
    actor_id: row.actor_id,
    expires_at: row.expires_at.toISOString(),
  }
}

export function storedFromRow(row: AuthLogRow): StoredChainedEvent {
  return {
    event: eventFromRow(row),
    digestSha256: row.digest_sha256,
    digestSha512: row.digest_sha512,
    digestSha3_256: row.digest_sha3_256,
    prevHash: row.prev_hash,
    chainHash: row.chain_hash,
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** A stored row as a chained event (digests hex encoded), as replicated to the sinks. */
export function chainedFromRow(row: AuthLogRow): ChainedEvent {
  return {
    ...eventFromRow(row),
    digests: { sha256: hex(row.digest_sha256), sha512: hex(row.digest_sha512), sha3_256: hex(row.digest_sha3_256) },
    prev_hash: hex(row.prev_hash),
    chain_hash: hex(row.chain_hash),
  }
}
