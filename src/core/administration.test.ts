import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  acceptsAnonymousRegistration,
  acceptsInvitations,
  diffTenantSettings,
  lockoutPolicyProblem,
  PLAN_FIELDS,
  REGISTRATION_MODES,
  SETTINGS_FIELDS,
  userChangeRefusal,
  type TenantSettings,
} from './administration.ts'

const current: TenantSettings = {
  name: 'Acme',
  registration_mode: 'invite',
  allowed_origins: ['https://a.example', 'https://b.example'],
  retention_days: 365,
  can_download: true,
  lockout_max_failures: 5,
  lockout_window_seconds: 900,
  lockout_base_seconds: 60,
  lockout_multiplier: 2,
  lockout_max_seconds: 3600,
}

describe('diffTenantSettings', () => {
  it('splits an update into plan and settings, each holding only the fields whose value differs', () => {
    expect(diffTenantSettings(current, { retention_days: 30, name: 'Acme Ltd', can_download: true, registration_mode: 'invite' })).toEqual({
      plan: { retention_days: { from: 365, to: 30 } },
      settings: { name: { from: 'Acme', to: 'Acme Ltd' } },
    })
  })

  it('reports every plan field and every settings field that changes', () => {
    const update: TenantSettings = {
      name: 'B',
      registration_mode: 'open',
      allowed_origins: [],
      retention_days: 30,
      can_download: false,
      lockout_max_failures: 3,
      lockout_window_seconds: 60,
      lockout_base_seconds: 30,
      lockout_multiplier: 3,
      lockout_max_seconds: 600,
    }
    const { plan, settings } = diffTenantSettings(current, update)
    expect(Object.keys(plan).sort()).toEqual([...PLAN_FIELDS].sort())
    expect(Object.keys(settings).sort()).toEqual([...SETTINGS_FIELDS].sort())
    expect(plan.lockout_max_seconds).toEqual({ from: 3600, to: 600 })
    expect(settings.allowed_origins).toEqual({ from: current.allowed_origins, to: [] })
  })

  it('compares lists by their entries in order: the same list is no change, another order or length is', () => {
    expect(diffTenantSettings(current, { allowed_origins: ['https://a.example', 'https://b.example'] }).settings).toEqual({})
    expect(diffTenantSettings(current, { allowed_origins: ['https://b.example', 'https://a.example'] }).settings).toHaveProperty('allowed_origins')
    expect(diffTenantSettings(current, { allowed_origins: ['https://a.example', 'https://c.example'] }).settings).toHaveProperty('allowed_origins')
    expect(diffTenantSettings(current, { allowed_origins: ['https://a.example'] }).settings).toHaveProperty('allowed_origins')
    expect(diffTenantSettings(current, { allowed_origins: ['https://a.example', 'https://b.example', 'https://c.example'] }).settings).toHaveProperty('allowed_origins')
  })

  it('changes nothing for an empty update or one repeating the current values', () => {
    expect(diffTenantSettings(current, {})).toEqual({ plan: {}, settings: {} })
    expect(diffTenantSettings(current, { ...current, allowed_origins: [...current.allowed_origins] })).toEqual({ plan: {}, settings: {} })
  })

  it('takes the plan fields to be the lockout policy, retention and downloads', () => {
    expect([...PLAN_FIELDS]).toEqual([
      'retention_days',
      'can_download',
      'lockout_max_failures',
      'lockout_window_seconds',
      'lockout_base_seconds',
      'lockout_multiplier',
      'lockout_max_seconds',
    ])
    expect([...SETTINGS_FIELDS]).toEqual(['name', 'registration_mode', 'allowed_origins'])
  })
})

describe('lockoutPolicyProblem', () => {
  it('refuses a maximum lock shorter than the first one, as the tenants table does; equal is allowed', () => {
    expect(lockoutPolicyProblem({ lockout_base_seconds: 60, lockout_max_seconds: 59 })).toEqual({ field: 'lockout_max_seconds', detail: 'must be at least lockout_base_seconds' })
    expect(lockoutPolicyProblem({ lockout_base_seconds: 60, lockout_max_seconds: 60 })).toBeNull()
    expect(lockoutPolicyProblem({ lockout_base_seconds: 60, lockout_max_seconds: 3600 })).toBeNull()
  })
})

describe('userChangeRefusal', () => {
  const admin = { userId: 'a', role: 'admin' as const }
  const auditor = { userId: 'b', role: 'auditor' as const }
  const user = { userId: 'c', role: 'user' as const }

  it('refuses any change of one\'s own role or status', () => {
    expect(userChangeRefusal(admin, { userId: 'a', role: 'admin' })).toBe('self')
    expect(userChangeRefusal(admin, { userId: 'a', role: 'admin' }, 'user')).toBe('self')
  })

  it('refuses touching a user who holds more than the actor, and granting more than the actor holds', () => {
    expect(userChangeRefusal(auditor, admin)).toBe('beyond_own_role')
    expect(userChangeRefusal(user, auditor)).toBe('beyond_own_role')
    expect(userChangeRefusal(auditor, user, 'admin')).toBe('beyond_own_role')
    expect(userChangeRefusal(user, { userId: 'd', role: 'user' }, 'auditor')).toBe('beyond_own_role')
  })

  it('allows changes up to the actor\'s own role', () => {
    expect(userChangeRefusal(admin, user, 'admin')).toBeNull()
    expect(userChangeRefusal(admin, { userId: 'e', role: 'admin' })).toBeNull()
    expect(userChangeRefusal(auditor, user, 'auditor')).toBeNull()
    expect(userChangeRefusal(auditor, { userId: 'f', role: 'auditor' })).toBeNull()
    expect(userChangeRefusal(user, { userId: 'g', role: 'user' }, 'user')).toBeNull()
  })
})

describe('registration modes', () => {
  it('are the three the tenants table allows', () => {
    const sql = readFileSync(new URL('../../migrations/20261202050100_add_tenant_administration.sql', import.meta.url), 'utf8')
    expect(sql).toContain(`CHECK (registration_mode IN (${REGISTRATION_MODES.map((m) => `'${m}'`).join(', ')}))`)
    expect([...REGISTRATION_MODES]).toEqual(['open', 'invite', 'closed'])
  })

  it('accept anonymous registration only when open, invitations unless closed', () => {
    expect(REGISTRATION_MODES.map(acceptsAnonymousRegistration)).toEqual([true, false, false])
    expect(REGISTRATION_MODES.map(acceptsInvitations)).toEqual([true, true, false])
  })
})
