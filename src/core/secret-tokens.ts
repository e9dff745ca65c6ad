import { sha256 } from '@noble/hashes/sha2.js'

/**
 * A new bearer secret (`<prefix>_` and 32 random bytes, base64url) and the SHA-256 digest that is the
 * only thing stored of it. The secret is shown once, to whoever created it.
 */
export function newSecretToken(prefix: string): { token: string; digest: Uint8Array } {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  const token = `${prefix}_${btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`
  return { token, digest: digestOfToken(token) }
}

/** The stored form of a secret: looked up by its digest, so the secret itself is never stored nor compared. */
export function digestOfToken(token: string): Uint8Array {
  return sha256(new TextEncoder().encode(token))
}
