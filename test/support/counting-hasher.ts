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

/**
 * Wraps the real hasher so that every verification waits until `release()`: a test holds an attempt at its
 * hashing (after its snapshot was read, before its append) while it does something else. `verifications`
 * lists those begun, held or not.
 */
export function heldHasher(inner: PasswordHasher): PasswordHasher & { verifications: string[]; release(): void } {
  const verifications: string[] = []
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  return {
    verifications,
    release,
    hash: (p) => inner.hash(p),
    verify: async (hash, password) => {
      verifications.push(hash)
      await released
      return inner.verify(hash, password)
    },
  }
}
