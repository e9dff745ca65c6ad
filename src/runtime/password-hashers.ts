import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { PasswordHasherLoaders } from '../auth/select-password-hasher.ts'
import { createWasmArgon2Hasher, type Argon2idWasmModules } from '../auth/wasm-argon2-hasher.ts'

const require = createRequire(import.meta.url)

/** Compiles the `argon2id` package's WebAssembly from its files (Node, Bun, Deno: compiling at run time is allowed there). */
export async function compileArgon2idWasm(): Promise<Argon2idWasmModules> {
  const compile = async (file: string) => WebAssembly.compile(await readFile(require.resolve(`argon2id/dist/${file}`)))
  const [simd, noSimd] = await Promise.all([compile('simd.wasm'), compile('no-simd.wasm')])
  return { simd, noSimd }
}

/**
 * The hashers a server runtime can offer. The native module is imported only when asked for, so a runtime
 * that cannot load Node-API modules (Deno without --allow-ffi) never touches it.
 */
export const serverPasswordHasherLoaders: PasswordHasherLoaders = {
  native: async () => (await import('../auth/argon2-hasher.ts')).createArgon2Hasher(),
  wasm: async () => createWasmArgon2Hasher(await compileArgon2idWasm()),
}
