import { describe, expect, it } from 'vitest'
import {
  decideLogin,
  decideUnlock,
  DEFAULT_LOCKOUT_POLICY,
  EMPTY_LOCKOUT_STATE,
  isLocked,
  lockDurationSeconds,
  LOCKOUT_ESCALATION_MEMORY_SECONDS,
  type LockoutState,
} from './lockout-policy.ts'

const policy = { ...DEFAULT_LOCKOUT_POLICY, maxFailures: 3, windowSeconds: 60, baseLockSeconds: 10, multiplier: 3, maxLockSeconds: 100 }
const t0 = new Date('2026-01-01T00:00:00Z')
const at = (s: number) => new Date(t0.getTime() + s * 1000)

function fail(state: LockoutState, now: Date) {
  const d = decideLogin(state, policy, false, now)
  if (d.result === 'verify_required') throw new Error('unexpected')
  return d
}

describe('decideLogin', () => {
  it('counts failures and locks exactly once at the threshold', () => {
    let s = EMPTY_LOCKOUT_STATE
    const types: string[] = []
    for (let i = 0; i < 3; i++) {
      const d = fail(s, at(i))
      types.push(...d.effects.map((e) => e.type))
      s = d.next
    }
    expect(types).toEqual(['login_failed', 'login_failed', 'login_failed', 'account_locked'])
    expect(s.failedLoginAttempts).toBe(3)
    expect(s.accountLockedUntil).toEqual(at(2 + 10))
    expect(s.lockoutCount).toBe(1)
  })

  it('answers a locked account without needing the password and keeps counting', () => {
    const locked: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 3, accountLockedUntil: at(10), lockoutCount: 1, lastLockedAt: at(0), windowStartedAt: at(0) }
    const d = decideLogin(locked, policy, null, at(5))
    expect(d.result).toBe('locked')
    if (d.result !== 'locked') return
    expect(d.retryAfterSeconds).toBe(5)
    expect(d.effects).toEqual([{ type: 'login_failed', reason: 'account_locked', failures: 4, lockedUntil: at(10) }])
    expect(d.next.failedLoginAttempts).toBe(4)
    // A correct password changes nothing while locked.
    expect(decideLogin(locked, policy, true, at(5)).result).toBe('locked')
  })

  it('writes lockout_reset when an expired lockout is acted upon, then asks for verification if it skipped it', () => {
    const expired: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 3, accountLockedUntil: at(10), lockoutCount: 1, lastLockedAt: at(0) }
    expect(decideLogin(expired, policy, null, at(11))).toEqual({ result: 'verify_required' })
    const d = fail(expired, at(11))
    expect(d.effects.map((e) => e.type)).toEqual(['lockout_reset', 'login_failed'])
    expect(d.effects[0]).toMatchObject({ reason: 'lockout_expired', previousFailures: 3 })
    expect(d.next.failedLoginAttempts).toBe(1)
    expect(d.next.accountLockedUntil).toBeNull()
  })

  it('escalates repeated lockouts up to the maximum', () => {
    expect([1, 2, 3, 4, 5].map((n) => lockDurationSeconds(policy, n))).toEqual([10, 30, 90, 100, 100])
    const relapsed: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 2, windowStartedAt: at(100), lockoutCount: 2, lastLockedAt: at(50) }
    const d = fail(relapsed, at(101))
    expect(d.next.lockoutCount).toBe(3)
    expect(d.next.accountLockedUntil).toEqual(at(101 + 90))
  })

  it('forgets escalation after a day without lockouts', () => {
    const old: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 2, windowStartedAt: at(200_000), lockoutCount: 4, lastLockedAt: at(0) }
    expect(fail(old, at(200_001)).next.lockoutCount).toBe(1)
  })

  it('restarts the count when the window has passed', () => {
    const s: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 2, windowStartedAt: at(0), lastFailedAt: at(1) }
    const d = fail(s, at(61))
    expect(d.result).toBe('invalid_credentials')
    expect(d.next.failedLoginAttempts).toBe(1)
    expect(d.next.windowStartedAt).toEqual(at(61))
  })

  it('resets on success after failures, and only then', () => {
    const s: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 2, windowStartedAt: at(0), lockoutCount: 1 }
    const d = decideLogin(s, policy, true, at(3))
    expect(d.result).toBe('success')
    if (d.result !== 'success') return
    expect(d.effects.map((e) => e.type)).toEqual(['login_success', 'lockout_reset'])
    expect(d.next).toEqual(EMPTY_LOCKOUT_STATE)
    const clean = decideLogin(EMPTY_LOCKOUT_STATE, policy, true, at(3))
    expect(clean.result === 'success' && clean.effects.map((e) => e.type)).toEqual(['login_success'])
  })

  it('unlock clears everything and reports what it cleared', () => {
    const s: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 5, accountLockedUntil: at(10), lockoutCount: 2 }
    const u = decideUnlock(s)
    expect(u.effect).toMatchObject({ type: 'lockout_reset', reason: 'admin_unlock', previousFailures: 5, lockoutCount: 2 })
    expect(u.next).toEqual(EMPTY_LOCKOUT_STATE)
    expect(decideUnlock(EMPTY_LOCKOUT_STATE).effect).toBeNull()
  })
})

// Each boundary probed on both sides, a millisecond apart: `<` and `<=` must not be interchangeable.
describe('boundaries', () => {
  const ms = (s: number) => new Date(t0.getTime() + s)

  it('a failure exactly windowSeconds after the window opened starts a new window; one just before still counts', () => {
    const s: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 1, windowStartedAt: at(0), lastFailedAt: at(0) }
    const inside = fail(s, ms(60_000 - 1))
    expect(inside.next.failedLoginAttempts).toBe(2)
    expect(inside.next.windowStartedAt).toEqual(at(0))
    const edge = fail(s, at(60))
    expect(edge.next.failedLoginAttempts).toBe(1)
    expect(edge.next.windowStartedAt).toEqual(at(60))
  })

  it('the threshold locks at maxFailures within the window and not one failure earlier', () => {
    const twoDown: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 1, windowStartedAt: at(0) }
    expect(fail(twoDown, at(1))).toMatchObject({ result: 'invalid_credentials', next: { failedLoginAttempts: 2, accountLockedUntil: null } })
    const oneDown: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 2, windowStartedAt: at(0) }
    const d = fail(oneDown, at(2))
    expect(d).toMatchObject({ result: 'locked', retryAfterSeconds: 10, next: { failedLoginAttempts: 3, accountLockedUntil: at(12) } })
    expect(d.effects).toEqual([
      { type: 'login_failed', reason: 'invalid_credentials', failures: 3, lockedUntil: at(12) },
      { type: 'account_locked', reason: 'too_many_failures', failures: 3, lockedUntil: at(12), lockoutCount: 1, durationSeconds: 10 },
    ])
  })

  it('escalation is remembered for exactly LOCKOUT_ESCALATION_MEMORY_SECONDS after the last lockout', () => {
    const memory = LOCKOUT_ESCALATION_MEMORY_SECONDS * 1000
    const relapse = (lastLockedAt: Date, now: Date): LockoutState => ({
      ...EMPTY_LOCKOUT_STATE,
      failedLoginAttempts: 2,
      windowStartedAt: new Date(now.getTime() - 1000),
      lockoutCount: 2,
      lastLockedAt,
    })
    const atEdge = ms(memory)
    expect(fail(relapse(t0, atEdge), atEdge).next.lockoutCount).toBe(3)
    const past = ms(memory + 1)
    expect(fail(relapse(t0, past), past).next.lockoutCount).toBe(1)
  })

  it('a lockout holds until its last millisecond and is over at lockedUntil', () => {
    const locked: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 3, windowStartedAt: at(0), accountLockedUntil: at(10), lockoutCount: 1, lastLockedAt: at(0) }
    expect(isLocked(locked, ms(10_000 - 1))).toBe(true)
    expect(isLocked(locked, at(10))).toBe(false)
    expect(isLocked(EMPTY_LOCKOUT_STATE, at(10))).toBe(false)
    // Its last millisecond still answers "retry after 1 s", never 0.
    expect(decideLogin(locked, policy, null, ms(10_000 - 1))).toMatchObject({ result: 'locked', retryAfterSeconds: 1 })
    expect(decideLogin(locked, policy, null, ms(10_000 - 1500))).toMatchObject({ result: 'locked', retryAfterSeconds: 2 })
    expect(decideLogin(locked, policy, true, at(10))).toMatchObject({ result: 'success' })
  })

  it('an expired lockout is reset before a success, and the success reports the reset failures', () => {
    const expired: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 4, windowStartedAt: at(0), accountLockedUntil: at(10), lockoutCount: 2, lastLockedAt: at(0) }
    const d = decideLogin(expired, policy, true, at(10))
    expect(d).toEqual({
      result: 'success',
      effects: [{ type: 'lockout_reset', reason: 'lockout_expired', previousFailures: 4, lockoutCount: 2 }, { type: 'login_success' }],
      next: EMPTY_LOCKOUT_STATE,
    })
  })

  it('the first lockout lasts baseLockSeconds, whatever lockout number is asked for below one', () => {
    expect(lockDurationSeconds(policy, 0)).toBe(10)
    expect(lockDurationSeconds(policy, 1)).toBe(10)
    expect(lockDurationSeconds({ ...policy, maxLockSeconds: 30 }, 2)).toBe(30)
    expect(lockDurationSeconds({ ...policy, maxLockSeconds: 29 }, 2)).toBe(29)
  })

  it('unlock reports a reset for failures alone and for a lock alone', () => {
    expect(decideUnlock({ ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 1 }).effect).toEqual({
      type: 'lockout_reset',
      reason: 'admin_unlock',
      previousFailures: 1,
      lockoutCount: 0,
    })
    expect(decideUnlock({ ...EMPTY_LOCKOUT_STATE, accountLockedUntil: at(5), lockoutCount: 1 }).effect).toEqual({
      type: 'lockout_reset',
      reason: 'admin_unlock',
      previousFailures: 0,
      lockoutCount: 1,
    })
  })
})

describe('the defaults and the recorded reasons', () => {
  it('defaults to 5 failures in 15 minutes, a first lock of 5 minutes doubling up to a day', () => {
    expect(DEFAULT_LOCKOUT_POLICY).toEqual({ maxFailures: 5, windowSeconds: 900, baseLockSeconds: 300, multiplier: 2, maxLockSeconds: 86_400 })
  })

  it('records a failure as invalid_credentials and a reset by a success as login_succeeded', () => {
    const failed = decideLogin(EMPTY_LOCKOUT_STATE, DEFAULT_LOCKOUT_POLICY, false, t0)
    expect('effects' in failed && failed.effects).toContainEqual(expect.objectContaining({ type: 'login_failed', reason: 'invalid_credentials' }))
    const next = 'next' in failed ? failed.next : EMPTY_LOCKOUT_STATE
    const succeeded = decideLogin(next, DEFAULT_LOCKOUT_POLICY, true, at(1))
    expect('effects' in succeeded && succeeded.effects).toContainEqual(expect.objectContaining({ type: 'lockout_reset', reason: 'login_succeeded', previousFailures: 1 }))
  })
})
