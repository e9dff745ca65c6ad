import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { checkpointDue, fromBase64Url, signCheckpoint, type CheckpointPolicy, type CheckpointSigner, type SignedCheckpoint } from '../core/checkpoint.ts'
import type { Sql } from '../db/client.ts'
import { findTenantById } from '../db/tenants.ts'
import { recordEvents, type RequestOrigin } from './record-events.ts'

/** The service itself, recording on its own behalf. */
const SERVICE_ORIGIN: RequestOrigin = { ip: null, userAgent: null, deviceId: null, channel: 'system' }

export interface CheckpointDeps {
  sql: Sql
  signer: CheckpointSigner
  clock: () => Date
  policy: CheckpointPolicy
}

/** A chain whose head moved since its newest checkpoint. */
export interface ChainPosition {
  tenantId: string
  shard: number
  headSeq: number
  newest: { seq: number; signedAt: Date } | null
}

/**
 * The chains with events after their newest checkpoint (and after that checkpoint's own event), with
 * their newest checkpoint; checkpointDue decides which of them are due. One statement over chain_heads.
 */
export async function findUncheckpointedChains(sql: Sql): Promise<ChainPosition[]> {
  const rows = await sql<{ tenant_id: string; shard: number; head_seq: number; newest_seq: number | null; newest_signed_at: Date | null }[]>`
    SELECT h.tenant_id, h.shard, h.seq AS head_seq, c.seq AS newest_seq, c.signed_at AS newest_signed_at
    FROM chain_heads h
    LEFT JOIN LATERAL (
      SELECT s.seq, s.signed_at FROM signed_checkpoints s
      WHERE s.tenant_id = h.tenant_id AND s.shard = h.shard ORDER BY s.seq DESC LIMIT 1
    ) c ON true
    WHERE h.seq > coalesce(c.seq + 1, 0)
    ORDER BY h.tenant_id, h.shard`
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    shard: r.shard,
    headSeq: r.head_seq,
    newest: r.newest_seq === null ? null : { seq: r.newest_seq, signedAt: r.newest_signed_at! },
  }))
}

/**
 * Signs the current head of one chain and records the checkpoint, in one transaction: a row of
 * signed_checkpoints and a `chain_checkpoint` event in the same chain (just after the position it signs,
 * unless logins came in between), whose outbox row carries it to the document store and the SIEM.
 * Never on a login's path: the head is read as committed (its hash at that seq never changes), signed
 * while holding only a per-chain advisory lock, and the chain head's row lock is taken only by the
 * final append, as for any event. Returns null when another checkpointer holds the chain or it is no
 * longer due.
 */
export async function checkpointChainHead(deps: CheckpointDeps, chain: { tenantId: string; shard: number }): Promise<SignedCheckpoint | null> {
  const tenant = await findTenantById(deps.sql, chain.tenantId)
  if (!tenant) return null
  return deps.sql.begin(async (tx) => {
    const [locked] = await tx<{ ok: boolean }[]>`
      SELECT pg_try_advisory_xact_lock(hashtextextended(${`authtrail.checkpoint/${chain.tenantId}/${chain.shard}`}, 0)) AS ok`
    if (!locked!.ok) return null
    const [head] = await tx<{ seq: number; head_hash: Uint8Array }[]>`
      SELECT seq, head_hash FROM chain_heads WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard}`
    const [newest] = await tx<{ seq: number; signed_at: Date }[]>`
      SELECT seq, signed_at FROM signed_checkpoints WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard}
      ORDER BY seq DESC LIMIT 1`
    const now = deps.clock()
    if (!head || !checkpointDue(head.seq, newest ? { seq: newest.seq, signedAt: newest.signed_at } : null, now, deps.policy)) return null

    const cp = await signCheckpoint(deps.signer, {
      tenantId: chain.tenantId,
      shard: chain.shard,
      seq: head.seq,
      chainHash: bytesToHex(new Uint8Array(head.head_hash)),
      signedAt: now.toISOString(),
    })
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'chain_checkpoint',
          outcome: 'success',
          origin: SERVICE_ORIGIN,
          metadata: { checkpoint_seq: cp.seq, chain_hash: cp.chainHash, signed_at: cp.signedAt, key_id: cp.keyId, signature: cp.signature },
        },
      ],
      { now, shard: chain.shard },
    )
    await tx`
      INSERT INTO signed_checkpoints (tenant_id, shard, seq, chain_hash, signed_at, key_id, signature, event_id)
      VALUES (${cp.tenantId}, ${cp.shard}, ${cp.seq}, ${Buffer.from(hexToBytes(cp.chainHash))}, ${now}, ${cp.keyId},
              ${Buffer.from(fromBase64Url(cp.signature)!)}, ${event!.id})`
    return cp
  })
}

/**
 * One round of the checkpointer: every chain that is due (see checkpointDue) gets a signed checkpoint.
 * Returns the checkpoints made.
 */
export async function checkpointDueChains(deps: CheckpointDeps): Promise<SignedCheckpoint[]> {
  const now = deps.clock()
  const made: SignedCheckpoint[] = []
  for (const chain of await findUncheckpointedChains(deps.sql)) {
    if (!checkpointDue(chain.headSeq, chain.newest, now, deps.policy)) continue
    const cp = await checkpointChainHead(deps, chain)
    if (cp) made.push(cp)
  }
  return made
}
