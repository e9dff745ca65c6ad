/**
 * Password hashing port. The production implementation is argon2id; the core and the use cases see only
 * this interface.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>
  /** Never throws for a malformed hash: answers false. */
  verify(hash: string, password: string): Promise<boolean>
}

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 (the minimum we allow). */
export const ARGON2ID_OWASP = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const
