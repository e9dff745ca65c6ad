import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import type { AuthEvent, ChainedEvent, UnsequencedEvent } from './auth-event.ts'
import { canonicalEventBytes } from './canonical-json.ts'
import { constantTimeEqual, hexDigests, nobleDigester, type Digester } from './digests.ts'

/**
 * The hash a chain starts from: SHA-256 of a label naming the tenant and shard, so that a chain cannot be
 * transplanted to another tenant or shard.
 */
export function genesisHash(tenantId: string, shard: number, digester: Digester = nobleDigester): Uint8Array {
  return digester.sha256(utf8ToBytes(`authtrail/chain/v1/${tenantId}/${shard}`))
}

/** chain_hash(n) = SHA-256(chain_hash(n-1) || SHA-256(canonical(event n))). */
export function linkHash(prevHash: Uint8Array, eventSha256: Uint8Array, digester: Digester = nobleDigester): Uint8Array {
  return digester.sha256(concatBytes(prevHash, eventSha256))
}

/**
 * Places events at the end of a chain whose head is (`lastSeq`, `headHash`): numbers them gaplessly,
 * digests their canonical form and links each to its predecessor.
 */
export function appendToChain(
  events: UnsequencedEvent[],
  position: { shard: number; lastSeq: number; headHash: Uint8Array },
  digester: Digester = nobleDigester,
): { chained: ChainedEvent[]; headHash: Uint8Array } {
  let prev = position.headHash
  const chained = events.map((event, i) => {
    const sequenced: AuthEvent = { ...event, shard: position.shard, seq: position.lastSeq + 1 + i }
    const digests = digester.digestBytes(canonicalEventBytes(sequenced))
    const chainHash = linkHash(prev, digests.sha256, digester)
    const result: ChainedEvent = { ...sequenced, digests: hexDigests(digests), prev_hash: bytesToHex(prev), chain_hash: bytesToHex(chainHash) }
    prev = chainHash
    return result
  })
  return { chained, headHash: prev }
}

/** Why a stored event does not verify. */
export type ChainBreakReason = 'sequence_gap' | 'digest_mismatch' | 'prev_hash_mismatch' | 'chain_hash_mismatch' | 'anchor_mismatch'

export interface ChainBreak {
  shard: number
  seq: number
  eventId: string
  reason: ChainBreakReason
}

/** A stored event as the verifier reads it: the canonical fields plus the stored digests and links. */
export interface StoredChainedEvent {
  event: AuthEvent
  digestSha256: Uint8Array
  digestSha512: Uint8Array
  digestSha3_256: Uint8Array
  prevHash: Uint8Array
  chainHash: Uint8Array
}

/**
 * Verifies a run of consecutive events of one chain, starting after (`fromSeq`, `fromHash`). Returns the
 * new head or the first break. With `anchors` (chain hashes held outside the table, by sequence number:
 * signed checkpoints), the recomputed chain must also have exactly the anchored hash at each anchored
 * position, so a chain rebuilt consistently after a change still breaks at the first anchor past the
 * change (`anchor_mismatch`). Every comparison of digests is constant-time.
 */
export function verifyChainSegment(
  rows: Iterable<StoredChainedEvent>,
  from: { seq: number; hash: Uint8Array },
  digester: Digester = nobleDigester,
  anchors?: ReadonlyMap<number, Uint8Array>,
): { ok: true; seq: number; hash: Uint8Array; count: number } | { ok: false; break: ChainBreak; count: number } {
  let expectedSeq = from.seq + 1
  let prev = from.hash
  let count = 0
  for (const row of rows) {
    const { event } = row
    const fail = (reason: ChainBreakReason) =>
      ({ ok: false, break: { shard: event.shard, seq: event.seq, eventId: event.id, reason }, count }) as const
    if (event.seq !== expectedSeq) return { ok: false, break: { shard: event.shard, seq: expectedSeq, eventId: event.id, reason: 'sequence_gap' }, count }
    const digests = digester.digestBytes(canonicalEventBytes(event))
    if (
      !constantTimeEqual(digests.sha256, row.digestSha256) ||
      !constantTimeEqual(digests.sha512, row.digestSha512) ||
      !constantTimeEqual(digests.sha3_256, row.digestSha3_256)
    ) {
      return fail('digest_mismatch')
    }
    if (!constantTimeEqual(prev, row.prevHash)) return fail('prev_hash_mismatch')
    const link = linkHash(prev, row.digestSha256, digester)
    if (!constantTimeEqual(link, row.chainHash)) return fail('chain_hash_mismatch')
    const anchored = anchors?.get(event.seq)
    if (anchored && !constantTimeEqual(link, anchored)) return fail('anchor_mismatch')
    prev = link
    expectedSeq++
    count++
  }
  return { ok: true, seq: expectedSeq - 1, hash: prev, count }
}
