import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { canonicalJson } from '../core/canonical-json.ts'
import { constantTimeEqual } from '../core/digests.ts'
import type { EventMetadata } from '../core/event-types.ts'
import type { Sql } from '../db/client.ts'

/**
 * Where verification of one chain starts once retention has purged its beginning: the position and
 * hash of the last purged event. See migrations/*_create_chain_checkpoints.sql.
 */
export interface ChainCheckpoint {
  tenantId: string
  shard: number
  seq: number
  chainHash: Uint8Array
  purgedBefore: Date
  /** The retention_purged event that lists this checkpoint (and every other one of the tenant). */
  purgeEventId: string
  /** HMAC-SHA256 of checkpointSigningInput under the configured key; null when none was configured. */
  signature: Uint8Array | null
}

/** One checkpoint as the retention_purged event's metadata lists it. */
export type CheckpointAttestation = EventMetadata<'retention_purged'>['checkpoints'][number]

/** The bytes a checkpoint signature covers: a versioned label and the position, in canonical JSON. */
export function checkpointSigningInput(cp: Pick<ChainCheckpoint, 'tenantId' | 'shard' | 'seq' | 'chainHash'>): Uint8Array {
  return utf8ToBytes(
    canonicalJson({ v: 'authtrail/checkpoint/v1', tenant_id: cp.tenantId, shard: cp.shard, seq: cp.seq, chain_hash: bytesToHex(cp.chainHash) }),
  )
}

/** Signs a checkpoint with HMAC-SHA256 (RFC 2104, FIPS 198-1). */
export function signCheckpoint(key: Uint8Array, cp: Pick<ChainCheckpoint, 'tenantId' | 'shard' | 'seq' | 'chainHash'>): Uint8Array {
  return hmac(sha256, key, checkpointSigningInput(cp))
}

/** The configured secret as key bytes (its UTF-8 encoding). */
export function checkpointKeyFromSecret(secret: string): Uint8Array {
  return utf8ToBytes(secret)
}

/**
 * Why a checkpoint cannot be trusted, or null when it can: with a key, it must carry a valid signature;
 * with or without one, the retention_purged event it names must list exactly this position and hash
 * (that event is in the chain, so altering it breaks verification of its own shard).
 */
export function checkpointProblem(
  cp: ChainCheckpoint,
  attested: CheckpointAttestation | undefined,
  key: Uint8Array | null,
): 'unsigned' | 'bad_signature' | 'unattested' | null {
  if (key) {
    if (cp.signature === null) return 'unsigned'
    if (!constantTimeEqual(signCheckpoint(key, cp), cp.signature)) return 'bad_signature'
  }
  if (!attested || attested.seq !== cp.seq || attested.chain_hash !== bytesToHex(cp.chainHash)) return 'unattested'
  return null
}

interface CheckpointRow {
  tenant_id: string
  shard: number
  seq: number
  chain_hash: Uint8Array
  purged_before: Date
  purge_event_id: string
  signature: Uint8Array | null
}

/** A tenant's checkpoints, by shard. */
export async function readChainCheckpoints(sql: Sql, tenantId: string): Promise<Map<number, ChainCheckpoint>> {
  const rows = await sql<CheckpointRow[]>`
    SELECT tenant_id, shard, seq, chain_hash, purged_before, purge_event_id, signature
    FROM chain_checkpoints WHERE tenant_id = ${tenantId} ORDER BY shard`
  return new Map(
    rows.map((r) => [
      r.shard,
      {
        tenantId: r.tenant_id,
        shard: r.shard,
        seq: r.seq,
        chainHash: new Uint8Array(r.chain_hash),
        purgedBefore: r.purged_before,
        purgeEventId: r.purge_event_id,
        signature: r.signature ? new Uint8Array(r.signature) : null,
      },
    ]),
  )
}

/** What the named retention_purged events attest, by event id and shard. Scoped to the tenant in SQL. */
export async function readCheckpointAttestations(
  sql: Sql,
  tenantId: string,
  eventIds: readonly string[],
): Promise<Map<string, Map<number, CheckpointAttestation>>> {
  if (eventIds.length === 0) return new Map()
  const rows = await sql<{ id: string; metadata: EventMetadata<'retention_purged'> }[]>`
    SELECT id, metadata FROM auth_logs
    WHERE tenant_id = ${tenantId} AND id = ANY(${eventIds as string[]}::uuid[]) AND event_type = 'retention_purged'`
  const result = new Map<string, Map<number, CheckpointAttestation>>()
  for (const row of rows) {
    const list = Array.isArray(row.metadata.checkpoints) ? row.metadata.checkpoints : []
    result.set(row.id, new Map(list.map((a) => [a.shard, a])))
  }
  return result
}
