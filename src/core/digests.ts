import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { sha3_256 } from '@noble/hashes/sha3.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { EventDigests } from './auth-event.ts'

/** Computes the three digests of some bytes. */
export type Digester = {
  sha256(data: Uint8Array): Uint8Array
  digests(data: Uint8Array): EventDigests
}

/** Portable digests from `@noble/hashes` (FIPS 180-4 SHA-256/512, FIPS 202 SHA3-256); runs anywhere. */
export const nobleDigester: Digester = {
  sha256: (data) => sha256(data),
  digests: (data) => ({
    sha256: bytesToHex(sha256(data)),
    sha512: bytesToHex(sha512(data)),
    sha3_256: bytesToHex(sha3_256(data)),
  }),
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
