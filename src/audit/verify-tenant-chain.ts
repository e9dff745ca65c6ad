import { constantTimeEqual, type Digester } from '../core/digests.ts'
import { genesisHash, verifyChainSegment, type ChainBreak, type StoredChainedEvent } from '../core/chain.ts'
import type { Sql } from '../db/client.ts'
import { checkpointProblem, readChainCheckpoints, readCheckpointAttestations } from './chain-checkpoints.ts'
import { AUTH_LOG_COLUMNS, storedFromRow, type AuthLogRow } from './stored-event.ts'

export interface ShardVerification {
  shard: number
  verified: number
  head_seq: number
  ok: boolean
  /** Present when retention purged the chain's beginning: verification started after this event. */
  checkpoint?: { seq: number; signed: boolean }
  break?:
    | ChainBreak
    | { shard: number; seq: number; eventId: null; reason: 'head_mismatch' }
    | { shard: number; seq: number; eventId: string; reason: 'checkpoint_mismatch' }
}

export interface TenantVerification {
  ok: boolean
  verified_events: number
  shards: ShardVerification[]
  /** The first broken sequence number (lowest shard first), if any. */
  first_break: NonNullable<ShardVerification['break']> | null
}

export interface VerifyOptions {
  /**
   * The checkpoint signing key. When given, every checkpoint must carry a valid HMAC; without it,
   * checkpoints are trusted only as far as the retention_purged event in the chain attests them.
   */
  checkpointKey?: Uint8Array | null
  /** Rows read per query (keyset pagination); tests make it small to cross page boundaries cheaply. */
  pageSize?: number
}

const DEFAULT_PAGE_SIZE = 5_000
const CONCURRENT_CHAINS = 2

function readPage(sql: Sql, tenantId: string, shard: number, afterSeq: number, pageSize: number): Promise<AuthLogRow[]> {
  return sql<AuthLogRow[]>`
    SELECT ${sql(AUTH_LOG_COLUMNS)} FROM auth_logs
    WHERE tenant_id = ${tenantId} AND shard = ${shard} AND seq > ${afterSeq}
    ORDER BY seq LIMIT ${pageSize}`
}

/**
 * Recomputes every chain of a tenant from PostgreSQL: canonical form, the three digests, each link, and
 * finally that the last link equals the chain head (so truncating the end is caught too). A chain whose
 * beginning retention purged starts from its checkpoint, once the checkpoint is shown genuine (signature
 * and attestation, see checkpointProblem); deleting a checkpoint leaves a sequence gap at the start.
 * Reads in pages with keyset pagination (two pages per chain at most in memory), two chains at a time.
 * Scoped to one tenant in SQL.
 */
export async function verifyTenantChain(
  sql: Sql,
  tenantId: string,
  digester: Digester,
  options: VerifyOptions = {},
): Promise<TenantVerification> {
  const heads = await sql<{ shard: number; seq: number; head_hash: Uint8Array }[]>`
    SELECT shard, seq, head_hash FROM chain_heads WHERE tenant_id = ${tenantId} ORDER BY shard`
  const checkpoints = await readChainCheckpoints(sql, tenantId)
  const attestations = await readCheckpointAttestations(sql, tenantId, [...new Set([...checkpoints.values()].map((c) => c.purgeEventId))])
  const key = options.checkpointKey ?? null
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE

  const verifyShard = async (head: (typeof heads)[number]): Promise<ShardVerification> => {
    let from = { seq: 0, hash: genesisHash(tenantId, head.shard, digester) }
    let verified = 0
    let broken: ShardVerification['break'] | undefined
    const checkpoint = checkpoints.get(head.shard)
    if (checkpoint) {
      const problem = checkpointProblem(checkpoint, attestations.get(checkpoint.purgeEventId)?.get(head.shard), key)
      if (problem) broken = { shard: head.shard, seq: checkpoint.seq, eventId: checkpoint.purgeEventId, reason: 'checkpoint_mismatch' }
      else from = { seq: checkpoint.seq, hash: checkpoint.chainHash }
    }
    // The next page is read while this one is verified: PostgreSQL and the hashing overlap.
    let next = broken ? null : readPage(sql, tenantId, head.shard, from.seq, pageSize)
    while (next) {
      const rows = await next
      next = rows.length === pageSize ? readPage(sql, tenantId, head.shard, rows[rows.length - 1]!.seq, pageSize) : null
      if (rows.length === 0) break
      const result = verifyChainSegment(rows.map(storedFromRow) as Iterable<StoredChainedEvent>, from, digester)
      verified += result.count
      if (!result.ok) {
        broken = result.break
        next?.catch(() => {})
        break
      }
      from = { seq: result.seq, hash: result.hash }
    }
    if (!broken && (from.seq !== head.seq || !constantTimeEqual(from.hash, new Uint8Array(head.head_hash)))) {
      broken = { shard: head.shard, seq: from.seq + 1, eventId: null, reason: 'head_mismatch' }
    }
    return {
      shard: head.shard,
      verified,
      head_seq: head.seq,
      ok: !broken,
      ...(checkpoint && { checkpoint: { seq: checkpoint.seq, signed: checkpoint.signature !== null } }),
      ...(broken && { break: broken }),
    }
  }

  // Chains are independent: two at a time keep both cores busy (one hashing while the other reads).
  const shards: ShardVerification[] = new Array(heads.length)
  let cursor = 0
  const worker = async () => {
    while (cursor < heads.length) {
      const i = cursor++
      shards[i] = await verifyShard(heads[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_CHAINS, heads.length) }, worker))
  const firstBreak = shards.find((s) => s.break)?.break ?? null
  return { ok: firstBreak === null, verified_events: shards.reduce((n, s) => n + s.verified, 0), shards, first_break: firstBreak }
}
