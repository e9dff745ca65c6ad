import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { wellFormed } from './well-formed.ts'

/** Normalises a login identifier (e-mail or user name): well-formed Unicode, NFKC, trimmed, lower case. */
export function normalizeIdentifier(raw: string): string {
  return wellFormed(raw).normalize('NFKC').trim().toLowerCase()
}

/**
 * The chain shard an identifier's events go to. Every event of one account lands in one shard, so the
 * account's history is totally ordered; different accounts spread over the tenant's shards.
 */
export function shardFor(identifier: string, shards: number): number {
  const d = sha256(utf8ToBytes(identifier))
  return ((d[0]! << 8) | d[1]!) % shards
}
