import { ARGON2ID_OWASP, type Argon2idParams } from './password-hasher.ts'

/** A parsed argon2id PHC string: `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`. */
export interface Argon2idPhc {
  params: Argon2idParams
  salt: Uint8Array
  hash: Uint8Array
}

// Only what authtrail stores and both hashers produce: argon2id, version 0x13 (19), parameters in the
// standard order, unpadded standard base64 (the PHC string format), salt ≥ 8 bytes and tag ≥ 4 bytes
// (RFC 9106's minimums). Anything else is not ours and never verifies.
const PHC = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{6,})$/
const U32_MAX = 0xffff_ffff

/**
 * Parses an argon2id PHC string; null when it is not one this service could have written.
 *
 * @example
 * parseArgon2idPhc('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g')?.params // { memoryCost: 19456, timeCost: 2, parallelism: 1 }
 */
export function parseArgon2idPhc(phc: string): Argon2idPhc | null {
  const match = PHC.exec(phc)
  if (!match) return null
  const [, m, t, p, salt, hash] = match
  const params = { memoryCost: Number(m), timeCost: Number(t), parallelism: Number(p) }
  if (params.memoryCost > U32_MAX || params.timeCost > U32_MAX || params.parallelism < 1) return null
  // RFC 9106: memory of at least 8 KiB per lane.
  if (params.memoryCost < 8 * params.parallelism) return null
  const saltBytes = fromBase64(salt!)
  const hashBytes = fromBase64(hash!)
  if (!saltBytes || !hashBytes) return null
  return { params, salt: saltBytes, hash: hashBytes }
}

/** Formats the PHC string exactly as `@node-rs/argon2` does, so either hasher can read the other's. */
export function formatArgon2idPhc({ params, salt, hash }: Argon2idPhc): string {
  return `$argon2id$v=19$m=${params.memoryCost},t=${params.timeCost},p=${params.parallelism}$${toBase64(salt)}$${toBase64(hash)}`
}

/** OWASP Password Storage Cheat Sheet's floor: both hashers refuse to hash, or to verify against, anything weaker. */
export function meetsOwaspMinimum(params: Argon2idParams): boolean {
  return params.memoryCost >= ARGON2ID_OWASP.memoryCost && params.timeCost >= ARGON2ID_OWASP.timeCost && params.parallelism >= 1
}

/** Throws when a hasher is configured below the OWASP minimum. */
export function assertOwaspMinimum(params: Argon2idParams): void {
  if (!meetsOwaspMinimum(params)) {
    throw new Error(`argon2id parameters below the OWASP minimum (m=${ARGON2ID_OWASP.memoryCost} KiB, t=${ARGON2ID_OWASP.timeCost}) are refused`)
  }
}

// atob/btoa exist on every runtime authtrail targets (Node, Bun, Deno, workerd); Buffer does not everywhere.
function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/=+$/, '')
}

function fromBase64(text: string): Uint8Array | null {
  // Unpadded base64 never leaves one character over; and a canonical encoding has zero trailing bits.
  if (text.length % 4 === 1) return null
  let binary: string
  try {
    binary = atob(text.padEnd(text.length + ((4 - (text.length % 4)) % 4), '='))
  } catch {
    return null
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
  return toBase64(bytes) === text ? bytes : null
}
