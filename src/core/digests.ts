import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { sha3_256 } from '@noble/hashes/sha3.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { EventDigests } from './auth-event.ts'

/** The three digests of an event's canonical bytes, raw. */
export interface DigestBytes {
  sha256: Uint8Array
  sha512: Uint8Array
  sha3_256: Uint8Array
}

/** Computes SHA-256 (FIPS 180-4, the chain's primary digest), SHA-512 and SHA3-256 (FIPS 202). */
export type Digester = {
  sha256(data: Uint8Array): Uint8Array
  digestBytes(data: Uint8Array): DigestBytes
}

/** Portable digests from `@noble/hashes`; runs anywhere, no runtime crypto needed. */
export const nobleDigester: Digester = {
  sha256: (data) => sha256(data),
  digestBytes: (data) => ({ sha256: sha256(data), sha512: sha512(data), sha3_256: sha3_256(data) }),
}

/** Hex encoding of the digests, as stored in documents and carried in the outbox. */
export function hexDigests(d: DigestBytes): EventDigests {
  return { sha256: bytesToHex(d.sha256), sha512: bytesToHex(d.sha512), sha3_256: bytesToHex(d.sha3_256) }
}

/**
 * Compares two byte strings in time that depends only on their length (OWASP ASVS V6.2.8), so that a
 * verifier does not leak how much of a digest matched.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  // Digest lengths are public; only the contents must not leak through timing.
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}
