import { hash, verify } from '@node-rs/argon2'
import { assertOwaspMinimum, meetsOwaspMinimum, parseArgon2idPhc } from './argon2id-phc.ts'
import { ARGON2ID_OWASP, type Argon2idParams, type PasswordHasher } from './password-hasher.ts'

// @node-rs/argon2's Algorithm.Argon2id; a const enum, so spelled out for isolatedModules.
const ARGON2ID = 2

/**
 * argon2id via `@node-rs/argon2` (Rust, Node-API, on the libuv pool): about 7 ms per verification here,
 * against about 30–50 ms for WebAssembly (`wasm-argon2-hasher.ts`). Node-API modules load on Node, Bun and
 * Deno (with --allow-ffi), not on edge runtimes: import this module only where that is known, or
 * dynamically (`runtime/password-hashers.ts`).
 */
export function createArgon2Hasher(params: Argon2idParams = ARGON2ID_OWASP): PasswordHasher {
  assertOwaspMinimum(params)
  return {
    hash: (password) => hash(password, { ...params, algorithm: ARGON2ID }),
    verify: async (stored, password) => {
      // The same gate as the WebAssembly hasher: a stored hash it could not have written never verifies.
      const phc = parseArgon2idPhc(stored)
      if (phc === null || !meetsOwaspMinimum(phc.params)) return false
      try {
        return await verify(stored, password)
      } catch {
        return false
      }
    },
  }
}
