import { hash, verify } from '@node-rs/argon2'
import { ARGON2ID_OWASP, type PasswordHasher } from './password-hasher.ts'

// @node-rs/argon2's Algorithm.Argon2id; a const enum, so spelled out for isolatedModules.
const ARGON2ID = 2

/**
 * argon2id via `@node-rs/argon2` (Rust, Node-API): about 7 ms per verification here, against 48 ms for
 * WebAssembly and 145 ms for pure JS. Node-API modules load on Node, Bun and Deno.
 */
export function createArgon2Hasher(params: { memoryCost: number; timeCost: number; parallelism: number } = ARGON2ID_OWASP): PasswordHasher {
  if (params.memoryCost < ARGON2ID_OWASP.memoryCost || params.timeCost < ARGON2ID_OWASP.timeCost) {
    throw new Error('argon2id parameters below the OWASP minimum (m=19456 KiB, t=2) are refused')
  }
  return {
    hash: (password) => hash(password, { ...params, algorithm: ARGON2ID }),
    verify: async (stored, password) => {
      try {
        return await verify(stored, password)
      } catch {
        return false
      }
    },
  }
}
