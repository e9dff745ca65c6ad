import { EVENT_FIELDS, type AuthEvent, type ChainedEvent } from '../core/auth-event.ts'
import type { StoredChainedEvent } from '../core/chain.ts'

/** The auth_logs columns that hold an event's digests and its link, after the event's own fields. */
export const CHAIN_COLUMNS = ['digest_sha256', 'digest_sha512', 'digest_sha3_256', 'prev_hash', 'chain_hash'] as const
type ChainColumn = (typeof CHAIN_COLUMNS)[number]

/** The auth_logs columns of a chained event: every event field, then the digests and the link (not the derived ip_inet). */
export const AUTH_LOG_COLUMNS = [...EVENT_FIELDS, ...CHAIN_COLUMNS]

/** The columns of an auth_logs row that hold the canonical event: its fields, instants as `timestamptz`. */
export type EventColumns = Omit<AuthEvent, 'occurred_at' | 'expires_at'> & { occurred_at: Date; expires_at: Date }

/** An auth_logs row as the `postgres` client returns it (AUTH_LOG_COLUMNS). */
export type AuthLogRow = EventColumns & Record<ChainColumn, Uint8Array>

/**
 * The canonical event a stored row claims to be: exactly the fields that were hashed. Written out rather
 * than copied field by field because verification spends its time here; the compiler refuses a literal
 * that misses a field of AuthEvent.
 */
export function eventFromRow(row: EventColumns): AuthEvent {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    organisation_id: row.organisation_id,
    shard: row.shard,
    seq: row.seq,
    event_type: row.event_type,
    channel: row.channel,
    user_id: row.user_id,
    identifier: row.identifier,
    ip: row.ip,
    user_agent: row.user_agent,
    device_id: row.device_id,
    occurred_at: row.occurred_at.toISOString(),
    outcome: row.outcome,
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
