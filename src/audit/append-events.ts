import { hexToBytes } from '@noble/hashes/utils.js'
import type { ChainedEvent, LockoutSnapshot, OutboxPayload, UnsequencedEvent } from '../core/auth-event.ts'
import { appendToChain } from '../core/chain.ts'
import type { Digester } from '../core/digests.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import { lockoutUpdate } from '../db/lockouts.ts'
import { lockoutSnapshot } from './lockout-snapshot.ts'
import type { Tx } from '../db/client.ts'

/** Thrown inside a transaction when an event id already exists: the caller's transaction rolls back whole. */
export class DuplicateEventError extends Error {
  constructor(readonly eventIds: string[]) {
    super('event already recorded')
  }
}

export interface ChainTarget {
  tenantId: string
  shard: number
}

const toBytes = (hex: string) => Buffer.from(hexToBytes(hex))

/** An account's lockout state after the events: stored with them and mirrored by the document store. */
export interface LockoutChange {
  identifier: string
  userId: string | null
  state: LockoutState
  now: Date
}

/**
 * Appends events to a chain inside the caller's transaction: takes the chain head's row lock, numbers the
 * events gaplessly, links their hashes, and in one statement writes the auth_logs rows, the new head, one
 * outbox row per event and, when given, the account's new lockout state (whose row the caller has locked).
 * If any event id exists already (a retried request), throws DuplicateEventError so that the whole
 * transaction, chain head included, rolls back: a retry never leaves a gap or a duplicate.
 */
export async function appendAuthEvents(
  tx: Tx,
  target: ChainTarget,
  events: UnsequencedEvent[],
  lockout: LockoutChange | null,
  digester?: Digester,
): Promise<ChainedEvent[]> {
  const [head] = await tx<{ seq: number; head_hash: Uint8Array }[]>`
    UPDATE chain_heads SET seq = seq + ${events.length}
    WHERE tenant_id = ${target.tenantId} AND shard = ${target.shard}
    RETURNING seq, head_hash`
  if (!head) throw new Error(`no chain head for tenant ${target.tenantId} shard ${target.shard}`)

  const { chained, headHash } = appendToChain(
    events,
    { shard: target.shard, lastSeq: head.seq - events.length, headHash: new Uint8Array(head.head_hash) },
    digester,
  )
  const last = chained[chained.length - 1]!
  const snapshot: LockoutSnapshot | null = lockout && {
    ...lockoutSnapshot(target.tenantId, lockout.identifier, lockout.userId, lockout.state),
    shard: target.shard,
    seq: last.seq,
  }

  const logRows = chained.map((e) => ({
    id: e.id,
    tenant_id: e.tenant_id,
    organisation_id: e.organisation_id,
    shard: e.shard,
    seq: e.seq,
    event_type: e.event_type,
    channel: e.channel,
    user_id: e.user_id,
    identifier: e.identifier,
    ip: e.ip,
    user_agent: e.user_agent,
    device_id: e.device_id,
    occurred_at: new Date(e.occurred_at),
    outcome: e.outcome,
    reason: e.reason,
    risk: tx.json(e.risk as never),
    metadata: tx.json(e.metadata),
    token_jti: e.token_jti,
    actor_id: e.actor_id,
    expires_at: new Date(e.expires_at),
    digest_sha256: toBytes(e.digests.sha256),
    digest_sha512: toBytes(e.digests.sha512),
    digest_sha3_256: toBytes(e.digests.sha3_256),
    prev_hash: toBytes(e.prev_hash),
    chain_hash: toBytes(e.chain_hash),
  }))
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
      WHERE tenant_id = ${target.tenantId} AND shard = ${target.shard}
    ), box AS (
      INSERT INTO outbox ${tx(outboxRows)} ON CONFLICT (event_id) DO NOTHING
    )${lockout ? tx`, state AS (${lockoutUpdate(tx, target.tenantId, lockout.identifier, lockout.state, lockout.now)})` : tx``}
    SELECT count(*)::int AS inserted FROM logs`
  if (result!.inserted !== chained.length) throw new DuplicateEventError(chained.map((e) => e.id))
  return chained
}
