import { argon2id as portableArgon2id } from '@noble/hashes/argon2.js'
import setupWasm from 'argon2id/lib/setup.js'
import { constantTimeEqual } from '../core/digests.ts'
import { assertOwaspMinimum, formatArgon2idPhc, meetsOwaspMinimum, parseArgon2idPhc } from './argon2id-phc.ts'
import { ARGON2ID_OWASP, type Argon2idParams, type PasswordHasher } from './password-hasher.ts'

/**
 * The two compiled builds of the `argon2id` package's WebAssembly (`dist/simd.wasm`, `dist/no-simd.wasm`).
 * Each runtime supplies them its own way: Cloudflare Workers forbid compiling WebAssembly from bytes at run
 * time, so the worker imports them as modules uploaded with it; Node, Bun and Deno compile the files.
 */
export interface Argon2idWasmModules {
  simd: WebAssembly.Module
  noSimd: WebAssembly.Module
}

/** What `@node-rs/argon2` writes by default, so both hashers' strings look alike. */
const SALT_BYTES = 16
const TAG_BYTES = 32
/** The `argon2id` package refuses passwords shorter than this (RFC 9106 allows any length, even empty). */
const WASM_MIN_PASSWORD_BYTES = 8

const utf8 = new TextEncoder()

/**
 * argon2id in WebAssembly, for runtimes that cannot load Node-API modules (Cloudflare Workers, Deno
 * Deploy). Produces and verifies the same PHC strings as `createArgon2Hasher` (tested both ways), and like
 * it refuses parameters below the OWASP minimum, at construction and in a stored hash.
 *
 * It runs on the calling thread: each hash blocks the event loop for its whole duration (about 30–50 ms of
 * CPU here against about 7 ms for the native one; `npm run bench` measures both).
 *
 * Why the `argon2id` package (openpgp.js) and not `hash-wasm`: hash-wasm compiles WebAssembly from an
 * embedded string at run time, which workerd refuses ("Wasm code generation disallowed by embedder");
 * `argon2id` takes its modules from the caller, and with SIMD it is also the faster of the two.
 *
 * @example
 * const hasher = await createWasmArgon2Hasher({ simd, noSimd })
 * const phc = await hasher.hash('correct horse battery staple')
 * await hasher.verify(phc, 'correct horse battery staple') // true
 */
export async function createWasmArgon2Hasher(modules: Argon2idWasmModules, params: Argon2idParams = ARGON2ID_OWASP): Promise<PasswordHasher> {
  assertOwaspMinimum(params)
  const instantiate = (module: WebAssembly.Module) => async (imports: WebAssembly.Imports) => ({ module, instance: await WebAssembly.instantiate(module, imports) })
  const wasmArgon2id = await setupWasm(instantiate(modules.simd), instantiate(modules.noSimd))

  const derive = (password: string, salt: Uint8Array, p: Argon2idParams, tagLength: number): Uint8Array => {
    const bytes = utf8.encode(password)
    if (bytes.length < WASM_MIN_PASSWORD_BYTES) {
      // The same function in portable JavaScript (about 3× slower), so that short passwords hash and
      // verify exactly as with the native hasher. Registration requires 12 characters; only a wrong
      // login guess is ever this short.
      return portableArgon2id(bytes, salt, { t: p.timeCost, m: p.memoryCost, p: p.parallelism, dkLen: tagLength })
    }
    return wasmArgon2id({ password: bytes, salt, parallelism: p.parallelism, passes: p.timeCost, memorySize: p.memoryCost, tagLength })
  }

  return {
    hash: async (password) => {
      const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES))
      return formatArgon2idPhc({ params, salt, hash: derive(password, salt, params, TAG_BYTES) })
    },
    verify: async (stored, password) => {
      const phc = parseArgon2idPhc(stored)
      if (phc === null || !meetsOwaspMinimum(phc.params)) return false
      try {
        return constantTimeEqual(derive(password, phc.salt, phc.params, phc.hash.length), phc.hash)
      } catch {
        return false
      }
    },
  }
}
