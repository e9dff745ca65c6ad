import { describe, expect, it } from 'vitest'
import { defencePolicyOf, DefencePolicySettings } from './defence-policy.ts'
import { decideThrottle, EMPTY_THROTTLE_STATE, isAllowListed, networkOf, remainingFailures, spendFailure, UNKNOWN_NETWORK, type IpThrottleState } from './ip-throttle.ts'

const t0 = new Date('2026-12-02T08:00:00.000Z')
const at = (ms: number) => new Date(t0.getTime() + ms)

/** Spends `n` failures at `now`, as n allowed attempts would. */
function spend(state: IpThrottleState, policy: ReturnType<typeof defencePolicyOf>, n: number, now: Date): IpThrottleState {
  for (let i = 0; i < n; i++) {
    const d = decideThrottle(state, policy, 1, now)
    expect(d.throttled, `failure ${i + 1}`).toBe(false)
    state = spendFailure(d.next, policy, now)
  }
  return state
}

describe('networkOf', () => {
  it('counts IPv4 per address, IPv6 per /64, IPv4-mapped IPv6 as IPv4, anything else as unknown', () => {
    expect(networkOf('203.0.113.7')).toBe('203.0.113.7/32')
    expect(networkOf('::ffff:203.0.113.7')).toBe('203.0.113.7/32')
    expect(networkOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(networkOf('2001:DB8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64')
    expect(networkOf('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64')
    expect(networkOf(null)).toBe(UNKNOWN_NETWORK)
    expect(networkOf('not an address')).toBe(UNKNOWN_NETWORK)
  })
})

describe('allow-list', () => {
  const policy = defencePolicyOf({ allow_list: ['198.51.100.0/24', '2001:db8:aa::/48'] })
  it('matches addresses inside the networks, of the same family only', () => {
    expect(isAllowListed('198.51.100.200', policy.allowList)).toBe(true)
    expect(isAllowListed('::ffff:198.51.100.9', policy.allowList)).toBe(true)
    expect(isAllowListed('198.51.101.1', policy.allowList)).toBe(false)
    expect(isAllowListed('2001:db8:aa:ffff::1', policy.allowList)).toBe(true)
    expect(isAllowListed('2001:db8:ab::1', policy.allowList)).toBe(false)
    expect(isAllowListed(null, policy.allowList)).toBe(false)
  })
  it('refuses entries that are not networks, naming the field', () => {
    const parsed = DefencePolicySettings.safeParse({ allow_list: ['10.0.0.0/33'] })
    expect(parsed.success).toBe(false)
    expect(parsed.error!.issues[0]!.path).toEqual(['allow_list', 0])
  })
})

// The defaults themselves are pinned in defence-policy.test.ts, beside their definition.
describe('settings', () => {
  it('refuse a spraying budget larger than the budget, and unknown fields', () => {
    expect(DefencePolicySettings.safeParse({ ip_failure_budget: 10, spray_failure_budget: 11 }).success).toBe(false)
    expect(DefencePolicySettings.safeParse({ budget: 10 }).success).toBe(false)
  })
})

describe('decideThrottle', () => {
  const policy = defencePolicyOf({ ip_failure_budget: 7, ip_window_seconds: 3600, spray_accounts: 3, spray_failure_budget: 2 })

  it('allows exactly the budget at one instant, then refuses with the wait until one failure refills', () => {
    const state = spend(EMPTY_THROTTLE_STATE, policy, 7, t0)
    const refused = decideThrottle(state, policy, 1, t0)
    expect(refused).toMatchObject({ throttled: true, reason: 'failure_budget', startsEpisode: true })
    // 3600 s / 7, rounded up to a whole millisecond.
    const interval = Math.ceil(3_600_000 / 7)
    expect(refused.throttled && refused.throttledUntil).toEqual(at(interval))
    expect(refused.throttled && refused.retryAfterSeconds).toBe(Math.ceil(interval / 1000))
    expect(remainingFailures(state, policy, 1, t0)).toBe(0)
  })

  it('refills continuously: one failure per interval, and the episode lasts until the budget is full', () => {
    const interval = Math.ceil(3_600_000 / 7)
    let state = spend(EMPTY_THROTTLE_STATE, policy, 7, t0)
    const first = decideThrottle(state, policy, 1, t0)
    state = first.next
    expect(decideThrottle(state, policy, 1, at(interval - 1)).throttled).toBe(true)
    const again = decideThrottle(state, policy, 1, at(interval))
    expect(again).toMatchObject({ throttled: false })
    state = spendFailure(again.next, policy, at(interval))
    const refusedAgain = decideThrottle(state, policy, 1, at(interval))
    expect(refusedAgain).toMatchObject({ throttled: true, startsEpisode: false })
    expect(remainingFailures(state, policy, 1, at(3 * interval))).toBe(2)
    // Quiet until full again: the next attempt closes the episode.
    const later = decideThrottle(state, policy, 1, at(9 * interval))
    expect(later).toMatchObject({ throttled: false })
    expect(later.next.episodeStartedAt).toBeNull()
    expect(later.next.episodeCount).toBe(1)
  })

  it('applies the spraying budget once the address failed against enough distinct accounts', () => {
    const state = spend(EMPTY_THROTTLE_STATE, policy, 2, t0)
    expect(decideThrottle(state, policy, 2, t0).throttled).toBe(false)
    expect(decideThrottle(state, policy, 3, t0)).toMatchObject({ throttled: true, reason: 'spraying' })
    expect(remainingFailures(state, policy, 3, t0)).toBe(0)
    expect(remainingFailures(state, policy, 2, t0)).toBe(5)
  })
})
