import ipaddr from 'ipaddr.js'
import type { AllowedNetwork, DefencePolicy } from './defence-policy.ts'

/**
 * Per-address throttling (ASVS V2.2.1): pure decisions over an address's stored state, taken inside the
 * login's transaction while that state's row is locked. No I/O, no clock: `now` is passed in.
 *
 * Each budget is a generic cell rate algorithm (GCRA, as ATM networks and most rate limiters use it):
 * the state is one instant per budget, when the budget will be full again. A failure costs `interval`
 * milliseconds of debt; an attempt is refused while its failure would take the debt past `capacity`.
 * The budget so refills continuously (one failure every `interval`), a burst spends at most the whole
 * budget, and, the interval being whole milliseconds, the count is exact: N failures at one instant
 * leave the N+1st refused exactly when N is the budget.
 */

/** The key of an address's budget: IPv4 per address, IPv6 per /64 (one subscriber's prefix), else `unknown`. */
export type NetworkKey = string

/** Attempts whose address is unknown or unreadable share one budget: failing closed, not open. */
export const UNKNOWN_NETWORK: NetworkKey = 'unknown'

function parseAddress(ip: string | null): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!ip) return null
  try {
    // process(): an IPv4-mapped IPv6 address is its IPv4 address.
    return ipaddr.process(ip)
  } catch {
    return null
  }
}

/**
 * The network an address is counted in. Rotating through the 2^64 addresses of one IPv6 /64 gains an
 * attacker nothing.
 *
 * @example
 * networkOf('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 */
export function networkOf(ip: string | null): NetworkKey {
  const address = parseAddress(ip)
  if (address === null) return UNKNOWN_NETWORK
  if (address.kind() === 'ipv4') return `${address.toString()}/32`
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/64`).toString()}/64`
}

/** Whether an address lies in one of the allow-listed networks. */
export function isAllowListed(ip: string | null, allowList: readonly AllowedNetwork[]): boolean {
  const address = parseAddress(ip)
  if (address === null) return false
  return allowList.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits))
}

/** An address's stored state. */
export interface IpThrottleState {
  /** When the failure budget is full again (GCRA's theoretical arrival time); null: full. */
  budgetFullAt: Date | null
  /** The same for the spraying budget, spent by every failure, enforced once the address sprays. */
  sprayBudgetFullAt: Date | null
  /** When the current throttling episode began; null outside one. */
  episodeStartedAt: Date | null
  /** Episodes so far. */
  episodeCount: number
}

export const EMPTY_THROTTLE_STATE: IpThrottleState = { budgetFullAt: null, sprayBudgetFullAt: null, episodeStartedAt: null, episodeCount: 0 }

/** One budget: a failure costs `interval` ms, and the debt may not pass `capacity` ms. */
interface Budget {
  interval: number
  capacity: number
}

/** `failures` per `windowSeconds`, the interval rounded up to a whole millisecond (so never more than that). */
function budgetOf(failures: number, windowSeconds: number): Budget {
  const interval = Math.ceil((windowSeconds * 1000) / failures)
  return { interval, capacity: interval * failures }
}

function debtOf(fullAt: Date | null, now: Date): number {
  return fullAt === null ? 0 : Math.max(0, fullAt.getTime() - now.getTime())
}

/** Failures left before the budget refuses (0: it refuses now). */
function remainingOf(budget: Budget, fullAt: Date | null, now: Date): number {
  return Math.floor((budget.capacity - debtOf(fullAt, now)) / budget.interval)
}

export type ThrottleReason = 'failure_budget' | 'spraying'

export type ThrottleDecision =
  | { throttled: false; next: IpThrottleState }
  | {
      throttled: true
      reason: ThrottleReason
      retryAfterSeconds: number
      throttledUntil: Date
      /** The first refusal of an episode: its attempt records `ip_throttled`. */
      startsEpisode: boolean
      next: IpThrottleState
    }

/** Whether the address is spraying: failing against `failedAccounts` distinct accounts (this attempt's included). */
export function isSpraying(policy: DefencePolicy, failedAccounts: number): boolean {
  return failedAccounts >= policy.sprayAccounts
}

/**
 * Whether an attempt from an address may proceed. A refused attempt costs nothing (it is not a failure
 * of a credential check), so an address hammering while throttled still gets its refilled budget, and no
 * more. An episode ends once every budget has refilled completely: an address that keeps trying at the
 * refill rate stays in one episode and records one `ip_throttled`.
 */
export function decideThrottle(state: IpThrottleState, policy: DefencePolicy, failedAccounts: number, now: Date): ThrottleDecision {
  const budget = budgetOf(policy.ipFailureBudget, policy.ipWindowSeconds)
  const spray = budgetOf(policy.sprayFailureBudget, policy.ipWindowSeconds)
  const refusals: { reason: ThrottleReason; waitMs: number }[] = []
  const budgetDebt = debtOf(state.budgetFullAt, now)
  const sprayDebt = debtOf(state.sprayBudgetFullAt, now)
  if (budgetDebt + budget.interval > budget.capacity) refusals.push({ reason: 'failure_budget', waitMs: budgetDebt + budget.interval - budget.capacity })
  if (isSpraying(policy, failedAccounts) && sprayDebt + spray.interval > spray.capacity) {
    refusals.push({ reason: 'spraying', waitMs: sprayDebt + spray.interval - spray.capacity })
  }
  if (refusals.length === 0) {
    const refilled = budgetDebt === 0 && sprayDebt === 0
    return { throttled: false, next: refilled && state.episodeStartedAt !== null ? { ...state, episodeStartedAt: null } : state }
  }
  const binding = refusals.reduce((a, b) => (b.waitMs > a.waitMs ? b : a))
  const startsEpisode = state.episodeStartedAt === null
  return {
    throttled: true,
    reason: binding.reason,
    retryAfterSeconds: Math.max(1, Math.ceil(binding.waitMs / 1000)),
    throttledUntil: new Date(now.getTime() + binding.waitMs),
    startsEpisode,
    next: startsEpisode ? { ...state, episodeStartedAt: now, episodeCount: state.episodeCount + 1 } : state,
  }
}

/**
 * The state after a failed credential check from the address: both budgets spend one failure. The
 * spraying budget is spent by failures it did not refuse (the address was not spraying yet), so its debt
 * is capped at its capacity: an address that starts spraying waits at most one interval more, and every
 * budget is full again at most one window after the last failure.
 */
export function spendFailure(state: IpThrottleState, policy: DefencePolicy, now: Date): IpThrottleState {
  const spend = (fullAt: Date | null, budget: Budget) =>
    new Date(Math.min(Math.max(fullAt?.getTime() ?? 0, now.getTime()) + budget.interval, now.getTime() + budget.capacity))
  return {
    ...state,
    budgetFullAt: spend(state.budgetFullAt, budgetOf(policy.ipFailureBudget, policy.ipWindowSeconds)),
    sprayBudgetFullAt: spend(state.sprayBudgetFullAt, budgetOf(policy.sprayFailureBudget, policy.ipWindowSeconds)),
  }
}

/**
 * Failures the address may still make now, as a snapshot shows it (`failedAccounts` as decideThrottle).
 */
export function remainingFailures(state: IpThrottleState, policy: DefencePolicy, failedAccounts: number, now: Date): number {
  const budget = remainingOf(budgetOf(policy.ipFailureBudget, policy.ipWindowSeconds), state.budgetFullAt, now)
  if (!isSpraying(policy, failedAccounts)) return Math.max(0, budget)
  return Math.max(0, Math.min(budget, remainingOf(budgetOf(policy.sprayFailureBudget, policy.ipWindowSeconds), state.sprayBudgetFullAt, now)))
}

/**
 * How many of the address's attempts may have their passwords verified at once: the failures left in
 * the tighter of its budgets, as if it were spraying (whether it is depends on attempts still in
 * flight). The login verifies no more at once, so a burst never hashes more passwords than the budget
 * allows; an address that turns out not to be spraying is verified anyway, after the transaction says so.
 */
export function admissibleVerifications(state: IpThrottleState, policy: DefencePolicy, now: Date): number {
  return remainingFailures(state, policy, policy.sprayAccounts, now)
}
