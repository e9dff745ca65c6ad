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
 * A place in the password-hashing queue, asked for before an attempt's database reads: whether the queue
 * is full is decided up front, so that a refused attempt does not first wait for the database. An attempt
 * that turns out not to hash (a locked account, a throttled address, a replay) gives it back at once.
 */
export interface HashReservation {
  /**
   * Verifies in the reserved place; after a release (or without one) takes a place now, and throws
   * HashQueueFullError if there is none.
   */
  verify(hash: string, password: string): Promise<boolean>
  /** Gives the place back; idempotent. Call it once no more hashing is due, and always at the end. */
  release(): void
}

export interface BoundedHasher extends PasswordHasher {
  /** A place for an attempt that may hash; null when the queue is full (refuse the attempt at once). */
  reserve(): HashReservation | null
  /** Verifications holding a place (queued or running) and the places reserved for attempts still reading. */
  pending(): number
}

/** How fast the estimate of which reserved attempts hash follows what the last ones did. */
const DEMAND_SMOOTHING = 1 / 16
/** The smallest share of a reservation counted against the queue, whatever the estimate. */
const MIN_DEMAND = 1 / 64
/**
 * With every place taken, an attempt is refused up front only when it is more likely to hash than not:
 * otherwise it is let through to its reads, most likely to be answered without hashing (423, 429).
 */
const LIKELY_TO_HASH = 1 / 2

/**
 * Puts a bounded queue in front of a hasher: at most `concurrency` argon2id computations run at once and
 * at most `queue` wait; one more is refused at once with HashQueueFullError, so that under overload a
 * client gets a quick 503 instead of an answer after its own timeout (its attempt recorded all the same).
 *
 * A login reserves its place before its database reads (`reserve`). A reservation counts against the
 * queue by the share of recent reserved attempts that went on to hash (1 at start-up), and with every
 * place taken one is refused only while that share is at least one half. Attempts on locked accounts or
 * from throttled addresses never hash: while they are most of what arrives they count little and are let
 * through to be answered 423 or 429, never refused as overloaded, even while every place hashes; a burst
 * of correct-password logins counts in full and its excess is refused before reading anything. An
 * attempt let through that finds no place when it is about to hash is refused then, after its reads.
 * At start-up, before any attempt has been seen, every attempt is assumed to hash.
 *
 * @example
 * const hasher = createBoundedHasher(createArgon2Hasher(), { concurrency: 4, queue: 64 })
 */
export function createBoundedHasher(hasher: PasswordHasher, limits: { concurrency: number; queue: number }): BoundedHasher {
  const queue = new PQueue({ concurrency: limits.concurrency })
  const capacity = limits.concurrency + limits.queue
  /** Places held by verifications (queued, running, or between two of one attempt). */
  let held = 0
  /** The reservations of attempts still deciding, each counted by the demand estimate when it was made. */
  let reserved = 0
  /**
   * How many of them there are. The shares are fractions added and taken away in different orders, so their
   * float sum drifts (a residue of about 1e-16 counted as one place pending when none was); with no
   * reservation left it is zero exactly.
   */
  let reservations = 0
  /** The share of reserved attempts that went on to hash. */
  let demand = 1
  const observe = (hashed: boolean) => {
    demand = Math.max(MIN_DEMAND, demand + DEMAND_SMOOTHING * ((hashed ? 1 : 0) - demand))
  }
  const takePlace = (): boolean => {
    if (held >= capacity) return false
    held++
    return true
  }
  const run = <T>(task: () => Promise<T>): Promise<T> => {
    if (held + reserved >= capacity) return Promise.reject(new HashQueueFullError(1))
    held++
    return (queue.add(task) as Promise<T>).finally(() => held--)
  }
  return {
    hash: (password) => run(() => hasher.hash(password)),
    verify: (hash, password) => run(() => hasher.verify(hash, password)),
    pending: () => held + Math.ceil(reserved - 1e-9),
    reserve() {
      let share = demand
      if (held + reserved + share > capacity + 1e-9 && share >= LIKELY_TO_HASH) return null
      reserved += share
      reservations++
      let holding = false
      const unreserve = (hashed: boolean) => {
        if (share === 0) return
        reservations--
        reserved = reservations === 0 ? 0 : Math.max(0, reserved - share)
        share = 0
        observe(hashed)
      }
      return {
        async verify(hash, password) {
          unreserve(true)
          if (!holding) {
            if (!takePlace()) throw new HashQueueFullError(1)
            holding = true
          }
          return queue.add(() => hasher.verify(hash, password)) as Promise<boolean>
        },
        release() {
          unreserve(false)
          if (holding) {
            holding = false
            held--
          }
        },
      }
    },
  }
}

/**
 * The reservation a login takes before its reads: the bounded hasher's, or for any other hasher (tests,
 * benchmarks) one that is always granted.
 */
export function reserveHashing(hasher: PasswordHasher): HashReservation | null {
  if ('reserve' in hasher && typeof hasher.reserve === 'function') return (hasher as BoundedHasher).reserve()
  return { verify: (hash, password) => hasher.verify(hash, password), release() {} }
}
