import { describe, expect, it } from 'vitest'
import { decideLogin, decideUnlock, DEFAULT_LOCKOUT_POLICY, EMPTY_LOCKOUT_STATE, lockDurationSeconds, type LockoutState } from './lockout-policy.ts'

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
