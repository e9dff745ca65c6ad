import type { PasswordHasher } from '../../src/auth/password-hasher.ts'

/** Wraps the real hasher and counts verifications, to prove when hashing did or did not happen. */
export function countingHasher(inner: PasswordHasher): PasswordHasher & { verifications: string[] } {
  const verifications: string[] = []
  return {
    verifications,
    hash: (p) => inner.hash(p),
    verify: (hash, password) => {
      verifications.push(hash)
      return inner.verify(hash, password)
    },
  }
}
