import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { constantTimeEqual } from '../core/digests.ts'

/** 32 random bytes in base64url: a refresh or CSRF token, unguessable and never stored as such. */
export function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** The SHA-256 a secret is stored and looked up as (a high-entropy secret needs no salt or slow hash). */
export function secretDigest(secret: string): Uint8Array {
  return sha256(utf8ToBytes(secret))
}

/** Whether a presented secret is the one whose digest is stored, compared in constant time. */
export function secretMatches(presented: string | null | undefined, stored: Uint8Array | null): boolean {
  if (!presented || !stored) return false
  return constantTimeEqual(secretDigest(presented), new Uint8Array(stored))
}

/** A well-formed secret as randomSecret makes them: anything else is refused before any lookup. */
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/
