/**
 * Password hashing port. The production implementations are argon2id, native (`argon2-hasher.ts`) or
 * WebAssembly (`wasm-argon2-hasher.ts`), producing and verifying the same PHC strings; the core and the
 * use cases see only this interface, so a wrapper (a bounded queue, a counter) can decorate it.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>
  /**
   * Never throws for a malformed hash: answers false. Also false for a stored hash below the OWASP
   * minimum (see `meetsOwaspMinimum`), whichever implementation verifies.
   */
  verify(hash: string, password: string): Promise<boolean>
}

export interface Argon2idParams {
  /** KiB */
  memoryCost: number
  timeCost: number
  parallelism: number
}

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 (the minimum we allow). */
export const ARGON2ID_OWASP = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const satisfies Argon2idParams
