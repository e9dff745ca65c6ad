import ipaddr from 'ipaddr.js'
import { z } from 'zod'

/**
 * A tenant's active defence, stored as data in the tenant's settings (`tenants.defence_policy`) and
 * validated here, on the way in and on the way out: per-address failure budgets, the tighter budget of an
 * address caught spraying, the networks that are never throttled, and how a lockout binds.
 *
 * The defaults (justified in the README, "Active defence"): ASVS V2.2.1 bounds guessing at 100 failed
 * attempts per hour on one account; the same bound is applied to one source address, and a tenth of it
 * (rounded to 20) once the address has failed against ten accounts in the window, which no single person
 * mistyping their own password does.
 */

/** A network in CIDR notation, IPv4 or IPv6, as an allow-list entry. */
const cidr = z.string().max(64).refine(
  (value) => {
    try {
      ipaddr.parseCIDR(value)
      return true
    } catch {
      return false
    }
  },
  { message: 'must be a network in CIDR notation, e.g. 198.51.100.0/24 or 2001:db8::/48' },
)

/** How an account lockout binds: every address (`account`), or the failing ones only (`account_ip`). */
export const LOCKOUT_MODES = ['account', 'account_ip'] as const
export type LockoutMode = (typeof LOCKOUT_MODES)[number]

/** Each setting with its bounds, no default: what a change may name (see DefencePolicyChange). */
const fields = {
  /** Failures one address (IPv6: one /64) may make in the window, refilling continuously. */
  ip_failure_budget: z.number().int().min(1).max(100_000),
  ip_window_seconds: z.number().int().min(60).max(7 * 86_400),
  /** An address that failed against this many distinct accounts in the window is spraying... */
  spray_accounts: z.number().int().min(2).max(10_000),
  /** ...and gets this budget instead (same window). */
  spray_failure_budget: z.number().int().min(1).max(100_000),
  /** Networks never throttled and, in `account_ip` mode, never bound by an account's lock (a corporate NAT). */
  allow_list: z.array(cidr).max(256),
  lockout_mode: z.enum(LOCKOUT_MODES),
  /** How long an address where the account logged in stays known to it (`account_ip` mode). */
  known_address_days: z.number().int().min(1).max(3650),
}

const budgetsAgree = (p: { spray_failure_budget: number; ip_failure_budget: number }) => p.spray_failure_budget <= p.ip_failure_budget
const budgetsDisagree = { message: 'spray_failure_budget must not exceed ip_failure_budget', path: ['spray_failure_budget'] }

export const DefencePolicySettings = z
  .strictObject({
    ip_failure_budget: fields.ip_failure_budget.default(100),
    ip_window_seconds: fields.ip_window_seconds.default(3600),
    spray_accounts: fields.spray_accounts.default(10),
    spray_failure_budget: fields.spray_failure_budget.default(20),
    allow_list: fields.allow_list.default([]),
    lockout_mode: fields.lockout_mode.default('account'),
    known_address_days: fields.known_address_days.default(90),
  })
  .refine(budgetsAgree, budgetsDisagree)

/**
 * A change of the policy as an administrator sends it: the settings to change, each optional and without
 * a default (what is left out keeps its current value). The merged policy is checked again as a whole
 * (DefencePolicySettings), since the budgets must agree with each other.
 */
export const DefencePolicyChange = z.strictObject(fields).partial()
/** Every setting present, as a policy is stored once written through the administration API. */
export const CompleteDefencePolicy = z.strictObject(fields)
export type DefencePolicyChange = z.output<typeof DefencePolicyChange>

/** The settings as stored and as the administration API shows them (snake_case, every field present). */
export type DefencePolicySettings = z.output<typeof DefencePolicySettings>

/** The policy as the login decides with it: settings with the allow-list parsed once. */
export interface DefencePolicy {
  ipFailureBudget: number
  ipWindowSeconds: number
  sprayAccounts: number
  sprayFailureBudget: number
  allowList: readonly AllowedNetwork[]
  lockoutMode: LockoutMode
  knownAddressDays: number
}

export type AllowedNetwork = [ipaddr.IPv4 | ipaddr.IPv6, number]

export const DEFAULT_DEFENCE_SETTINGS: DefencePolicySettings = DefencePolicySettings.parse({})

/** The policy of validated settings. Settings that do not validate throw: they never reach a decision. */
export function defencePolicyOf(settings: unknown): DefencePolicy {
  const s = DefencePolicySettings.parse(settings ?? {})
  return {
    ipFailureBudget: s.ip_failure_budget,
    ipWindowSeconds: s.ip_window_seconds,
    sprayAccounts: s.spray_accounts,
    sprayFailureBudget: s.spray_failure_budget,
    allowList: s.allow_list.map((entry) => ipaddr.parseCIDR(entry)),
    lockoutMode: s.lockout_mode,
    knownAddressDays: s.known_address_days,
  }
}

export const DEFAULT_DEFENCE_POLICY: DefencePolicy = defencePolicyOf({})
