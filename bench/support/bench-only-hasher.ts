import type { PasswordHasher } from '../../src/auth/password-hasher.ts'

/** The one password this hasher accepts. */
export const BENCH_RIGHT_PASSWORD = 'bench-right-password'

/** A syntactically valid argon2id PHC string (the users table checks the prefix); never verified by argon2 here. */
export const BENCH_PHC = '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2gtb25seS1zYWx0$0Zr3lm6mYxJ2C8Ta8BkI3aVy2r6Vw5JYpA7kqXrQ1Vw'

/**
 * A hasher that does no hashing, for measuring the audit pipeline without argon2 (benchmark 1 and 3).
 * It lives under bench/, which production code never imports, and refuses to exist in a production
 * environment as a second guard. The production hasher (`createArgon2Hasher`) keeps refusing weak
 * parameters: there is no configuration that makes it cheap.
 */
export function createBenchOnlyHasher(): PasswordHasher {
  if (process.env.AUTHTRAIL_ENV === 'production') throw new Error('the benchmark hasher cannot be used in production')
  return {
    hash: async () => BENCH_PHC,
    verify: async (_stored, password) => password === BENCH_RIGHT_PASSWORD,
  }
}
