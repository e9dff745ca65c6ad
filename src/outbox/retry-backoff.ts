/** Exponential backoff for a chain whose head event a sink refused. */
export interface BackoffPolicy {
  /** Delay after the first failure, in milliseconds. */
  baseMs: number
  /** Upper bound of the delay, in milliseconds. */
  maxMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000 }

/**
 * The delay before retrying after `attempts` consecutive failures: `baseMs · 2^(attempts-1)`, capped at
 * `maxMs`, then jittered into its upper half ("equal jitter"), so that chains failing together spread out
 * while the delay still grows with every attempt.
 *
 * @example
 * retryDelayMs(3, { baseMs: 1000, maxMs: 60_000 }) // between 2000 and 4000
 */
export function retryDelayMs(attempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 30))
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent)
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
