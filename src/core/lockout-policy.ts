/**
 * Account lockout (OWASP ASVS V2.8): pure decisions over the stored state, taken inside the login's
 * transaction while the state row is locked. No I/O, no clock: `now` is passed in.
 */

export interface LockoutPolicy {
  /** Failures within the window that trigger a lockout. */
  maxFailures: number
  windowSeconds: number
  /** First lockout's duration; each further one multiplies it, up to `maxLockSeconds`. */
  baseLockSeconds: number
  multiplier: number
  maxLockSeconds: number
}

export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = {
  maxFailures: 5,
  windowSeconds: 900,
  baseLockSeconds: 300,
  multiplier: 2,
  maxLockSeconds: 86_400,
}

/** Repeated lockouts stop escalating once the last one is this far in the past. */
export const LOCKOUT_ESCALATION_MEMORY_SECONDS = 86_400

export interface LockoutState {
  failedLoginAttempts: number
  windowStartedAt: Date | null
  lastFailedAt: Date | null
  accountLockedUntil: Date | null
  lockoutCount: number
  lastLockedAt: Date | null
}

export const EMPTY_LOCKOUT_STATE: LockoutState = {
  failedLoginAttempts: 0,
  windowStartedAt: null,
  lastFailedAt: null,
  accountLockedUntil: null,
  lockoutCount: 0,
  lastLockedAt: null,
}

/** What the lockout logic wants recorded, in order. The use case turns these into audit events. */
export type LockoutEffect =
  | { type: 'lockout_reset'; reason: 'lockout_expired' | 'login_succeeded' | 'admin_unlock'; previousFailures: number; lockoutCount: number }
  | { type: 'login_failed'; reason: 'invalid_credentials' | 'account_locked'; failures: number; lockedUntil: Date | null }
  | { type: 'account_locked'; reason: 'too_many_failures'; failures: number; lockedUntil: Date; lockoutCount: number; durationSeconds: number }
  | { type: 'login_success' }

export type LoginDecision =
  | { result: 'success'; effects: LockoutEffect[]; next: LockoutState }
  | { result: 'invalid_credentials'; effects: LockoutEffect[]; next: LockoutState }
  | { result: 'locked'; retryAfterSeconds: number; effects: LockoutEffect[]; next: LockoutState }
  /** The account was locked when the password was skipped, but no longer is: verify, then decide again. */
  | { result: 'verify_required' }

export function isLocked(state: LockoutState, now: Date): boolean {
  return state.accountLockedUntil !== null && state.accountLockedUntil.getTime() > now.getTime()
}

export function lockDurationSeconds(policy: LockoutPolicy, lockoutNumber: number): number {
  const raw = policy.baseLockSeconds * policy.multiplier ** Math.max(0, lockoutNumber - 1)
  return Math.min(policy.maxLockSeconds, raw)
}

function retryAfter(until: Date, now: Date): number {
  return Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000))
}

/**
 * Decides a login attempt. `passwordValid` is null when the password was not verified because the
 * account looked locked; a locked account is never verified, so a campaign against it costs no hashing.
 */
export function decideLogin(
  state: LockoutState,
  policy: LockoutPolicy,
  passwordValid: boolean | null,
  now: Date,
): LoginDecision {
  const effects: LockoutEffect[] = []
  let current = state

  if (isLocked(current, now)) {
    const until = current.accountLockedUntil!
    const next = { ...current, failedLoginAttempts: current.failedLoginAttempts + 1, lastFailedAt: now }
    effects.push({ type: 'login_failed', reason: 'account_locked', failures: next.failedLoginAttempts, lockedUntil: until })
    return { result: 'locked', retryAfterSeconds: retryAfter(until, now), effects, next }
  }

  if (current.accountLockedUntil !== null) {
    effects.push({ type: 'lockout_reset', reason: 'lockout_expired', previousFailures: current.failedLoginAttempts, lockoutCount: current.lockoutCount })
    current = { ...current, failedLoginAttempts: 0, windowStartedAt: null, accountLockedUntil: null }
  }

  if (passwordValid === null) return { result: 'verify_required' }

  if (passwordValid) {
    effects.push({ type: 'login_success' })
    if (current.failedLoginAttempts > 0) {
      effects.push({ type: 'lockout_reset', reason: 'login_succeeded', previousFailures: current.failedLoginAttempts, lockoutCount: current.lockoutCount })
    }
    return { result: 'success', effects, next: { ...EMPTY_LOCKOUT_STATE } }
  }

  const windowOpen =
    current.windowStartedAt !== null && now.getTime() - current.windowStartedAt.getTime() < policy.windowSeconds * 1000
  const failures = windowOpen ? current.failedLoginAttempts + 1 : 1
  let next: LockoutState = {
    ...current,
    failedLoginAttempts: failures,
    windowStartedAt: windowOpen ? current.windowStartedAt : now,
    lastFailedAt: now,
  }
  if (failures < policy.maxFailures) {
    effects.push({ type: 'login_failed', reason: 'invalid_credentials', failures, lockedUntil: null })
    return { result: 'invalid_credentials', effects, next }
  }

  const escalationForgotten =
    next.lastLockedAt === null || now.getTime() - next.lastLockedAt.getTime() > LOCKOUT_ESCALATION_MEMORY_SECONDS * 1000
  const lockoutCount = (escalationForgotten ? 0 : next.lockoutCount) + 1
  const durationSeconds = lockDurationSeconds(policy, lockoutCount)
  const lockedUntil = new Date(now.getTime() + durationSeconds * 1000)
  next = { ...next, accountLockedUntil: lockedUntil, lockoutCount, lastLockedAt: now }
  effects.push({ type: 'login_failed', reason: 'invalid_credentials', failures, lockedUntil })
  effects.push({ type: 'account_locked', reason: 'too_many_failures', failures, lockedUntil, lockoutCount, durationSeconds })
  return { result: 'locked', retryAfterSeconds: durationSeconds, effects, next }
}

/** An administrator's unlock: clears the state (escalation included) and says what was cleared. */
export function decideUnlock(state: LockoutState): { effect: LockoutEffect | null; next: LockoutState } {
  const wasLocked = state.accountLockedUntil !== null || state.failedLoginAttempts > 0
  return {
    effect: wasLocked
      ? { type: 'lockout_reset', reason: 'admin_unlock', previousFailures: state.failedLoginAttempts, lockoutCount: state.lockoutCount }
      : null,
    next: { ...EMPTY_LOCKOUT_STATE },
  }
}
