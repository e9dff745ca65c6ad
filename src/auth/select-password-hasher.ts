import { ConfigError, type Env } from '../config/env.ts'
import type { PasswordHasher } from './password-hasher.ts'

/** `PASSWORD_HASHER` (defined by the configuration schema): which argon2id implementation to use. */
export type PasswordHasherChoice = Env['PASSWORD_HASHER']
export type PasswordHasherKind = Exclude<PasswordHasherChoice, 'auto'>

/** How a runtime builds each implementation; `native` rejects where Node-API modules cannot load. */
export interface PasswordHasherLoaders {
  native(): Promise<PasswordHasher>
  wasm(): Promise<PasswordHasher>
}

export interface SelectedPasswordHasher {
  hasher: PasswordHasher
  kind: PasswordHasherKind
  /** Why this one: for the start-up log. */
  reason: string
}

/**
 * Chooses the password hasher at start-up: `native` or `wasm` as configured (a native hasher that cannot
 * load is a configuration error, exit 78), or with `auto` the native one where it loads and WebAssembly
 * otherwise. Both write and read the same PHC strings, so switching never invalidates a stored hash.
 *
 * @example
 * const { hasher, kind, reason } = await selectPasswordHasher(env.PASSWORD_HASHER, loaders)
 * log({ level: 'info', msg: 'password hasher', implementation: kind, reason })
 */
export async function selectPasswordHasher(choice: PasswordHasherChoice, loaders: PasswordHasherLoaders): Promise<SelectedPasswordHasher> {
  if (choice === 'wasm') return { hasher: await loaders.wasm(), kind: 'wasm', reason: 'PASSWORD_HASHER=wasm' }
  let nativeError: unknown
  try {
    return { hasher: await loaders.native(), kind: 'native', reason: `PASSWORD_HASHER=${choice}` }
  } catch (error) {
    nativeError = error
  }
  const why = nativeError instanceof Error ? nativeError.message.split('\n')[0] : String(nativeError)
  if (choice === 'native') {
    throw new ConfigError(`invalid configuration:\n  PASSWORD_HASHER: native argon2id cannot be loaded here (${why}); use wasm or auto`)
  }
  return { hasher: await loaders.wasm(), kind: 'wasm', reason: `PASSWORD_HASHER=auto, native argon2id unavailable: ${why}` }
}
