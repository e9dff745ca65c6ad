import PQueue from 'p-queue'
import type { PasswordHasher } from './password-hasher.ts'

/** Thrown at once, before any work, when the password-hashing queue is full: the service is overloaded. */
export class HashQueueFullError extends Error {
  override name = 'HashQueueFullError'
  constructor(readonly retryAfterSeconds: number) {
    super('the password-hashing queue is full')
  }
}

/**
 * Puts a bounded queue in front of a hasher: at most `concurrency` argon2id computations run at once and
 * at most `queue` wait; one more is refused at once with HashQueueFullError, so that under overload a
 * client gets a quick 503 instead of an answer after its own timeout (its attempt recorded all the same).
 *
 * @example
 * const hasher = createBoundedHasher(createArgon2Hasher(), { concurrency: 4, queue: 64 })
 */
export function createBoundedHasher(hasher: PasswordHasher, limits: { concurrency: number; queue: number }): PasswordHasher & { pending(): number } {
  const queue = new PQueue({ concurrency: limits.concurrency })
  const run = <T>(task: () => Promise<T>): Promise<T> => {
    if (queue.size >= limits.queue && queue.pending >= limits.concurrency) return Promise.reject(new HashQueueFullError(1))
    return queue.add(task) as Promise<T>
  }
  return {
    hash: (password) => run(() => hasher.hash(password)),
    verify: (hash, password) => run(() => hasher.verify(hash, password)),
    pending: () => queue.size + queue.pending,
  }
}
