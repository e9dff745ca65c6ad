import { describe, expect, it } from 'vitest'
import { DEFAULT_DEFENCE_POLICY, DEFAULT_DEFENCE_SETTINGS, defencePolicyOf, DefencePolicySettings, LOCKOUT_MODES } from './defence-policy.ts'

// A tenant's defence settings: the documented defaults, every bound at its edge, and the policy derived from them.

const accepts = (settings: unknown) => DefencePolicySettings.safeParse(settings).success

/** The issue zod reports for settings it refuses: which field, and what it says. */
function refusal(settings: unknown): { path: PropertyKey[]; message: string } {
  const parsed = DefencePolicySettings.safeParse(settings)
  if (parsed.success) throw new Error(`accepted: ${JSON.stringify(settings)}`)
  const issue = parsed.error.issues[0]!
  return { path: issue.path, message: issue.message }
}

describe('defence settings', () => {
  it('default to the values the README justifies (ASVS V2.2.1: 100 failures an hour; spraying: 10 accounts, 20 failures)', () => {
    expect(DEFAULT_DEFENCE_SETTINGS).toEqual({
      ip_failure_budget: 100,
      ip_window_seconds: 3600,
      spray_accounts: 10,
      spray_failure_budget: 20,
      allow_list: [],
      lockout_mode: 'account',
      known_address_days: 90,
    })
    expect(DefencePolicySettings.parse({})).toEqual(DEFAULT_DEFENCE_SETTINGS)
  })

  it('accepts each number at both of its bounds and refuses one past either, naming the field', () => {
    // The spraying budget may not exceed the address budget, so both budgets move together where needed.
    const bounds: [field: string, min: number, max: number, base?: Record<string, number>][] = [
      ['ip_failure_budget', 1, 100_000, { spray_failure_budget: 1 }],
      ['ip_window_seconds', 60, 7 * 86_400],
      ['spray_accounts', 2, 10_000],
      ['spray_failure_budget', 1, 100_000, { ip_failure_budget: 100_000 }],
      ['known_address_days', 1, 3650],
    ]
    for (const [field, min, max, base = {}] of bounds) {
      expect(accepts({ ...base, [field]: min }), `${field} = ${min}`).toBe(true)
      expect(accepts({ ...base, [field]: max }), `${field} = ${max}`).toBe(true)
      expect(refusal({ ...base, [field]: min - 1 }).path, `${field} = ${min - 1}`).toEqual([field])
      expect(refusal({ ...base, [field]: max + 1 }).path, `${field} = ${max + 1}`).toEqual([field])
      expect(refusal({ ...base, [field]: min + 0.5 }).path, `${field} = ${min + 0.5}`).toEqual([field])
    }
  })

  it('lets the spraying budget equal the address budget but not exceed it, and says so on the spraying budget', () => {
    expect(accepts({ ip_failure_budget: 50, spray_failure_budget: 50 })).toBe(true)
    expect(refusal({ ip_failure_budget: 50, spray_failure_budget: 51 })).toEqual({
      path: ['spray_failure_budget'],
      message: 'spray_failure_budget must not exceed ip_failure_budget',
    })
  })

  it('takes the two lockout modes and nothing else', () => {
    expect(LOCKOUT_MODES).toEqual(['account', 'account_ip'])
    expect(accepts({ lockout_mode: 'account_ip' })).toBe(true)
    expect(refusal({ lockout_mode: 'ip' }).path).toEqual(['lockout_mode'])
  })

  it('refuses a field it does not know', () => {
    expect(refusal({ ip_budget: 5 }).message).toMatch(/ip_budget/)
  })

  it('takes IPv4 and IPv6 networks in CIDR notation, at most 256 of them, each at most 64 characters', () => {
    expect(accepts({ allow_list: ['198.51.100.0/24', '2001:db8::/48', '0.0.0.0/0'] })).toBe(true)
    expect(accepts({ allow_list: Array.from({ length: 256 }, (_, i) => `10.0.${i}.0/24`) })).toBe(true)
    expect(refusal({ allow_list: Array.from({ length: 257 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) }).path).toEqual(['allow_list'])
    expect(refusal({ allow_list: ['198.51.100.7'] })).toEqual({
      path: ['allow_list', 0],
      message: 'must be a network in CIDR notation, e.g. 198.51.100.0/24 or 2001:db8::/48',
    })
    // A network written with leading zeros: 64 characters pass, the same network in 65 is refused by its length alone.
    const padded = (length: number) => `0000:0000:0000:0000:0000:0000:0000:0001/${'128'.padStart(length - 40, '0')}`
    expect(padded(64)).toHaveLength(64)
    expect(accepts({ allow_list: [padded(64)] })).toBe(true)
    expect(refusal({ allow_list: [padded(65)] }).path).toEqual(['allow_list', 0])
  })
})

describe('defencePolicyOf', () => {
  it('carries every setting into the policy and parses the allow-list once', () => {
    const policy = defencePolicyOf({
      ip_failure_budget: 40,
      ip_window_seconds: 600,
      spray_accounts: 4,
      spray_failure_budget: 8,
      allow_list: ['198.51.100.0/24', '2001:db8::/48'],
      lockout_mode: 'account_ip',
      known_address_days: 30,
    })
    expect({ ...policy, allowList: policy.allowList.map(([network, bits]) => `${network.toString()}/${bits}`) }).toEqual({
      ipFailureBudget: 40,
      ipWindowSeconds: 600,
      sprayAccounts: 4,
      sprayFailureBudget: 8,
      allowList: ['198.51.100.0/24', '2001:db8::/48'],
      lockoutMode: 'account_ip',
      knownAddressDays: 30,
    })
  })

  it('reads absent settings as the defaults, and refuses invalid ones', () => {
    expect(defencePolicyOf(null)).toEqual(DEFAULT_DEFENCE_POLICY)
    expect(defencePolicyOf(undefined)).toEqual(DEFAULT_DEFENCE_POLICY)
    expect(DEFAULT_DEFENCE_POLICY).toMatchObject({ ipFailureBudget: 100, ipWindowSeconds: 3600, sprayAccounts: 10, sprayFailureBudget: 20, allowList: [], lockoutMode: 'account', knownAddressDays: 90 })
    expect(() => defencePolicyOf({ ip_failure_budget: 0 })).toThrow()
  })
})
