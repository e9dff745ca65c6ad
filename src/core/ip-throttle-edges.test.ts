import { describe, expect, it } from 'vitest'
import { defencePolicyOf } from './defence-policy.ts'
import { admissibleVerifications, decideThrottle, EMPTY_THROTTLE_STATE, networkOf, remainingFailures, spendFailure, UNKNOWN_NETWORK, type IpThrottleState } from './ip-throttle.ts'

// The spraying budget at its edges, which refusal binds when both refuse, and when an episode ends.

const t0 = new Date('2026-12-02T08:00:00.000Z')
const at = (ms: number) => new Date(t0.getTime() + ms)
// Address budget: 7 an hour (interval 514,286 ms); spraying budget: 2 an hour (interval 1,800,000 ms) from 3 accounts on.
const policy = defencePolicyOf({ ip_failure_budget: 7, ip_window_seconds: 3600, spray_accounts: 3, spray_failure_budget: 2 })
const SPRAY_INTERVAL = 1_800_000
const BUDGET_INTERVAL = Math.ceil(3_600_000 / 7)

function spendTwice(): IpThrottleState {
  return spendFailure(spendFailure(EMPTY_THROTTLE_STATE, policy, t0), policy, t0)
}

describe('the spraying budget', () => {
  it('refuses a spraying address until one spraying interval has refilled, and not a millisecond longer', () => {
    const state = spendTwice()
    const refused = decideThrottle(state, policy, 3, t0)
    expect(refused).toMatchObject({ throttled: true, reason: 'spraying', throttledUntil: at(SPRAY_INTERVAL), retryAfterSeconds: 1800 })
    expect(decideThrottle(state, policy, 3, at(SPRAY_INTERVAL - 1)).throttled).toBe(true)
    expect(decideThrottle(state, policy, 3, at(SPRAY_INTERVAL)).throttled).toBe(false)
  })

  it('binds the refusal with the longer wait when both budgets refuse', () => {
    const both: IpThrottleState = { budgetFullAt: at(7 * BUDGET_INTERVAL), sprayBudgetFullAt: at(2 * SPRAY_INTERVAL), episodeStartedAt: null, episodeCount: 0 }
    expect(decideThrottle(both, policy, 3, t0)).toMatchObject({ throttled: true, reason: 'spraying', throttledUntil: at(SPRAY_INTERVAL) })
    const budgetLonger: IpThrottleState = { ...both, sprayBudgetFullAt: at(SPRAY_INTERVAL + 1) }
    expect(decideThrottle(budgetLonger, policy, 3, t0)).toMatchObject({ throttled: true, reason: 'failure_budget', throttledUntil: at(BUDGET_INTERVAL) })
    // On a tie the address budget is named: spraying is only the reason when it makes the address wait longer.
    const tie: IpThrottleState = { ...both, sprayBudgetFullAt: at(SPRAY_INTERVAL + BUDGET_INTERVAL) }
    expect(decideThrottle(tie, policy, 3, t0)).toMatchObject({ throttled: true, reason: 'failure_budget', throttledUntil: at(BUDGET_INTERVAL) })
  })

  it('counts what a spraying address may still fail: the tighter budget, never below zero', () => {
    expect(remainingFailures(EMPTY_THROTTLE_STATE, policy, 3, t0)).toBe(2)
    expect(remainingFailures(EMPTY_THROTTLE_STATE, policy, 2, t0)).toBe(7)
    expect(remainingFailures(spendFailure(EMPTY_THROTTLE_STATE, policy, t0), policy, 3, t0)).toBe(1)
  })

  it('verifies at once no more passwords than a spraying address could fail', () => {
    expect(admissibleVerifications(EMPTY_THROTTLE_STATE, policy, t0)).toBe(2)
    expect(admissibleVerifications(spendFailure(EMPTY_THROTTLE_STATE, policy, t0), policy, t0)).toBe(1)
    expect(admissibleVerifications(spendTwice(), policy, t0)).toBe(0)
  })
})

describe('the end of a throttling episode', () => {
  const inEpisode = (budgetFullAt: Date | null, sprayBudgetFullAt: Date | null): IpThrottleState => ({ budgetFullAt, sprayBudgetFullAt, episodeStartedAt: at(-1000), episodeCount: 1 })

  it('comes only once both budgets are full again', () => {
    expect(decideThrottle(inEpisode(null, at(1000)), policy, 1, t0).next.episodeStartedAt).toEqual(at(-1000))
    expect(decideThrottle(inEpisode(at(1000), null), policy, 1, t0).next.episodeStartedAt).toEqual(at(-1000))
    expect(decideThrottle(inEpisode(null, null), policy, 1, t0).next).toEqual({ budgetFullAt: null, sprayBudgetFullAt: null, episodeStartedAt: null, episodeCount: 1 })
  })
})

describe('addresses that cannot be read', () => {
  it('share the one budget named unknown', () => {
    expect(UNKNOWN_NETWORK).toBe('unknown')
    expect(networkOf('')).toBe('unknown')
  })
})
