import { bytesToHex } from '@noble/hashes/utils.js'
import { checkpointSignatureProblem, toBase64Url, type CheckpointVerifier, type SignedCheckpoint } from '../core/checkpoint.ts'
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
  /** Ed25519 signature of the checkpoint (src/core/checkpoint.ts), its key and time; null when no signing key was configured. */
  signature: Uint8Array | null
  keyId: string | null
  signedAt: Date | null
}

/** One checkpoint as the retention_purged event's metadata lists it. */
export type CheckpointAttestation = EventMetadata<'retention_purged'>['checkpoints'][number]

/** A retention checkpoint as the signed statement it carries, when it carries one. */
export function retentionCheckpointStatement(cp: ChainCheckpoint): SignedCheckpoint | null {
  if (cp.signature === null || cp.keyId === null || cp.signedAt === null) return null
  return {
    tenantId: cp.tenantId,
    shard: cp.shard,
    seq: cp.seq,
    chainHash: bytesToHex(cp.chainHash),
    signedAt: cp.signedAt.toISOString(),
    keyId: cp.keyId,
    signature: toBase64Url(cp.signature),
  }
}

/**
 * Why a checkpoint cannot be trusted, or null when it can: when the verifier accepts any key, it must
 * carry a valid signature of one of them; with or without one, the retention_purged event it names must
 * list exactly this position and hash (that event is in the chain, so altering it breaks verification
 * of its own shard).
 */
export async function checkpointProblem(
  cp: ChainCheckpoint,
  attested: CheckpointAttestation | undefined,
  verifier: CheckpointVerifier | null,
): Promise<'unsigned' | 'bad_signature' | 'unattested' | null> {
  if (verifier && verifier.keyIds.length > 0) {
    const statement = retentionCheckpointStatement(cp)
    if (statement === null) return 'unsigned'
    if ((await checkpointSignatureProblem(verifier, statement)) !== null) return 'bad_signature'
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
  key_id: string | null
  signed_at: Date | null
}

/** A tenant's checkpoints, by shard. */
export async function readChainCheckpoints(sql: Sql, tenantId: string): Promise<Map<number, ChainCheckpoint>> {
  const rows = await sql<CheckpointRow[]>`
    SELECT tenant_id, shard, seq, chain_hash, purged_before, purge_event_id, signature, key_id, signed_at
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
        keyId: r.key_id,
        signedAt: r.signed_at,
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
