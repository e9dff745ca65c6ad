/**
 * The rules of administration, pure: who may register, which settings of a tenant are its plan, what a
 * change changed, and what a tenant administrator may do to a user.
 */
import type { Role } from './tenancy.ts'

/** How accounts come to exist in a tenant: anyone (`open`), only through an invitation (`invite`), or not at all (`closed`). */
export const REGISTRATION_MODES = ['open', 'invite', 'closed'] as const
export type RegistrationMode = (typeof REGISTRATION_MODES)[number]

/** Who makes an administrative change, as its event records it. */
export type ActorKind = 'operator' | 'admin' | 'service'

/** A tenant's settings as they are stored and recorded, by their column names. */
export interface TenantSettings {
  name: string
  registration_mode: RegistrationMode
  allowed_origins: string[]
  retention_days: number
  can_download: boolean
  lockout_max_failures: number
  lockout_window_seconds: number
  lockout_base_seconds: number
  lockout_multiplier: number
  lockout_max_seconds: number
}

/** The settings that make a tenant's plan (retention, downloads, lockout policy); the rest are its settings. */
export const PLAN_FIELDS = [
  'retention_days',
  'can_download',
  'lockout_max_failures',
  'lockout_window_seconds',
  'lockout_base_seconds',
  'lockout_multiplier',
  'lockout_max_seconds',
] as const satisfies readonly (keyof TenantSettings)[]
export const SETTINGS_FIELDS = ['name', 'registration_mode', 'allowed_origins'] as const satisfies readonly (keyof TenantSettings)[]

type PlanField = (typeof PLAN_FIELDS)[number]
type SettingsField = (typeof SETTINGS_FIELDS)[number]
type Value = TenantSettings[keyof TenantSettings]
export type Changes<K extends string> = Partial<Record<K, { from: Value; to: Value }>>

function same(a: Value, b: Value): boolean {
  return Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((v, i) => v === b[i]) : a === b
}

/**
 * What an update changes, split into plan and settings, each holding only the fields whose value differs.
 *
 * @example
 * diffTenantSettings(current, { retention_days: 30 }) // { plan: { retention_days: { from: 365, to: 30 } }, settings: {} }
 */
export function diffTenantSettings(current: TenantSettings, update: Partial<TenantSettings>): { plan: Changes<PlanField>; settings: Changes<SettingsField> } {
  const plan: Changes<PlanField> = {}
  const settings: Changes<SettingsField> = {}
  for (const field of PLAN_FIELDS) {
    const to = update[field]
    if (to !== undefined && !same(current[field], to)) plan[field] = { from: current[field], to }
  }
  for (const field of SETTINGS_FIELDS) {
    const to = update[field]
    if (to !== undefined && !same(current[field], to)) settings[field] = { from: current[field], to }
  }
  return { plan, settings }
}

/** Why a lockout policy cannot be stored, or null: the same bounds as the tenants table's constraints. */
export function lockoutPolicyProblem(s: Pick<TenantSettings, 'lockout_base_seconds' | 'lockout_max_seconds'>): { field: string; detail: string } | null {
  if (s.lockout_max_seconds < s.lockout_base_seconds) return { field: 'lockout_max_seconds', detail: 'must be at least lockout_base_seconds' }
  return null
}

/** How much a role may do: a change may never give more than its actor has. */
const ROLE_RANK: Record<Role, number> = { user: 0, auditor: 1, admin: 2 }

/** Why a tenant administrator's change of another user is refused, or null when it is allowed. */
export type UserChangeRefusal = 'self' | 'beyond_own_role'

/**
 * Whether an actor with `actorRole` may give `role` to a user, or change the status of one holding
 * `targetRole`. Nobody changes their own role or status (an administrator cannot lock the tenant out by
 * mistake, nor a stolen token quietly raise itself); nobody grants or touches more than they hold.
 */
export function userChangeRefusal(actor: { userId: string; role: Role }, target: { userId: string; role: Role }, newRole?: Role): UserChangeRefusal | null {
  if (actor.userId === target.userId) return 'self'
  if (ROLE_RANK[target.role] > ROLE_RANK[actor.role]) return 'beyond_own_role'
  if (newRole !== undefined && ROLE_RANK[newRole] > ROLE_RANK[actor.role]) return 'beyond_own_role'
  return null
}

/** Whether anonymous registration (no invitation) is accepted in a tenant. */
export function acceptsAnonymousRegistration(mode: RegistrationMode): boolean {
  return mode === 'open'
}

/** Whether a registration through an invitation is accepted in a tenant. */
export function acceptsInvitations(mode: RegistrationMode): boolean {
  return mode !== 'closed'
}
