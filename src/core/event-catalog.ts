import { z } from 'zod'
import { CompleteDefencePolicy, DefencePolicyChange, LOCKOUT_MODES } from './defence-policy.ts'
import { PLAN_FIELDS, SETTINGS_FIELDS } from './administration.ts'

/**
 * The closed set of audit event types, each defined once: what it records (its category), how a SIEM
 * shows it (CEF name and severity), and the schema of what varies by type (outcome, reason, metadata).
 * Everything else is derived from this table: the EventType union, the TypeScript types of drafts, the
 * OpenAPI and document store enums, the CEF mapping, the checks of recordEvents.
 *
 * Adding an event type is one entry here plus a migration that extends auth_event_type_known() (see
 * migrations/*_replace_auth_logs_event_type_check.sql); a test fails while either is missing.
 */

/** An instant as `Date.prototype.toISOString` writes it, the only spelling events carry. */
const instant = z.string()
const count = z.number().int().min(0)
const success = z.literal('success')
const failure = z.literal('failure')

/** What an attempt refused before any credential check records: what was wrong, never the body. */
const refusedRequest = z.strictObject({
  /** The problem code the client was answered with. */
  problem_code: z.string(),
  /** The names of the invalid fields (at most 20), never their values. */
  invalid_fields: z.array(z.string()),
  /** The tenant slug the request named when no such tenant exists. */
  attempted_tenant: z.string().optional(),
})

/**
 * The identifier exactly as the client typed it, kept only when it differs from the normalised
 * `identifier` (NFKC, trimmed, lower case): what an analyst needs to see `ADMIN` tried beside `admin`.
 */
const identifierAsTyped = z.string().optional()
/** Who made an administrative change: a platform operator, a tenant administrator, or the service (the command). */
const actorKind = z.enum(['operator', 'admin', 'service'])
/** A setting's value before and after a change. */
const settingValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())])
const change = z.strictObject({ from: settingValue, to: settingValue })
/** Every setting a change touched, by name, and nothing it left as it was. */
const changes = <K extends string>(names: readonly [K, ...K[]]) => z.partialRecord(z.enum(names), change)
const role = z.enum(['user', 'admin', 'auditor'])

/**
 * Reasons an attempt is refused before any credential check; such attempts never count towards a lockout.
 * `overloaded`: the password-hashing queue was full (503), so the credential was never checked.
 */
const REFUSAL_REASONS = ['invalid_request', 'unknown_tenant', 'overloaded'] as const

/** The network an address is counted in (IPv4 address or IPv6 /64, in CIDR notation), or `unknown`. */
const network = z.string()
/** How the lock binds (see defence-policy.ts); absent on events recorded before lockout modes. */
const lockoutMode = z.enum(LOCKOUT_MODES).optional()

/** Facts about one event type that do not depend on the event. */
export interface EventDefinition {
  /** Whether it records an authentication attempt, an account-state change, a registration or an admin action. */
  category: 'authentication' | 'account_state' | 'registration' | 'administration'
  /**
   * ArcSight CEF: the human-readable Name (the Device Event Class ID stays the machine name) and the
   * severity, 0–10. A lockout is what an analyst must look at; a failed login matters in bulk; successes
   * and administrative routine are low.
   */
  cef: { name: string; severity: number }
  outcome: z.ZodType<'success' | 'failure'>
  reason: z.ZodType<string | null>
  metadata: z.ZodType<Record<string, unknown>>
}

export const EVENT_CATALOG = {
  login_failed: {
    category: 'authentication',
    cef: { name: 'Login failed', severity: 5 },
    outcome: failure,
    reason: z.enum(['invalid_credentials', 'account_locked', 'ip_throttled', ...REFUSAL_REASONS]),
    metadata: z.union([
      // A credential check: the failures counted in the window, and the lock it ended in, if any.
      z.strictObject({ failed_attempts: count, locked_until: instant.nullable(), identifier_as_typed: identifierAsTyped }),
      // Refused unchecked because the address spent its failure budget: until when.
      z.strictObject({ network, throttled_until: instant, identifier_as_typed: identifierAsTyped }),
      refusedRequest,
    ]),
  },
  account_locked: {
    category: 'account_state',
    cef: { name: 'Account locked', severity: 8 },
    outcome: failure,
    reason: z.literal('too_many_failures'),
    metadata: z.strictObject({
      failed_attempts: count,
      locked_until: instant,
      lockout_count: count,
      lock_duration_seconds: count,
      lockout_mode: lockoutMode,
      // In account_ip mode, the lock of one known or allow-listed network only.
      network: network.optional(),
    }),
  },
  login_success: {
    category: 'authentication',
    cef: { name: 'Login succeeded', severity: 2 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ token_expires_at: instant, identifier_as_typed: identifierAsTyped }),
  },
  lockout_reset: {
    category: 'account_state',
    cef: { name: 'Lockout reset', severity: 3 },
    outcome: success,
    reason: z.enum(['lockout_expired', 'login_succeeded', 'admin_unlock']),
    metadata: z.strictObject({
      previous_failed_attempts: count,
      lockout_count: count,
      // An administrator's unlock also says what it cleared.
      was_locked_until: instant.nullable().optional(),
      was_locked: z.boolean().optional(),
    }),
  },
  registration_succeeded: {
    category: 'registration',
    cef: { name: 'Registration succeeded', severity: 2 },
    outcome: success,
    reason: z.null(),
    // A registration through an invitation names it and the role it granted.
    metadata: z.strictObject({ invitation_id: z.string().optional(), role: role.optional() }),
  },
  registration_failed: {
    category: 'registration',
    cef: { name: 'Registration failed', severity: 4 },
    outcome: failure,
    reason: z.enum(['unknown_organisation', 'weak_password', 'identifier_taken', 'registration_closed', 'invitation_invalid', ...REFUSAL_REASONS]),
    metadata: z.union([z.strictObject({ password_policy: z.string().optional() }), refusedRequest]),
  },
  audit_exported: {
    category: 'administration',
    cef: { name: 'Audit trail exported', severity: 3 },
    outcome: z.enum(['success', 'failure']),
    reason: z.literal('download_not_allowed').nullable(),
    metadata: z.strictObject({ format: z.string(), from: instant.nullable(), to: instant, organisation_scope: z.string().nullable() }),
  },
  retention_purged: {
    category: 'administration',
    cef: { name: 'Expired events purged', severity: 4 },
    outcome: success,
    reason: z.literal('retention_expired'),
    metadata: z.strictObject({
      purged_before: instant,
      purged_events: count,
      shards: z.array(z.strictObject({ shard: count, boundary_seq: count, deleted: count })),
      // Every checkpoint of the tenant: the verifier trusts a checkpoint only if the newest purge event lists it.
      checkpoints: z.array(z.strictObject({ shard: count, seq: count, chain_hash: z.string() })),
      checkpoints_signed: z.boolean(),
    }),
  },
  dead_letters_redriven: {
    category: 'administration',
    cef: { name: 'Dead letters redriven', severity: 3 },
    outcome: z.enum(['success', 'failure']),
    reason: z.literal('sink_still_failing').nullable(),
    metadata: z.strictObject({
      sink: z.string(),
      redriven_count: count,
      failed_count: count,
      // At most 100 ids each; the counts are always complete.
      redriven_event_ids: z.array(z.string()),
      failed_event_ids: z.array(z.string()),
    }),
  },
  token_refreshed: {
    category: 'authentication',
    cef: { name: 'Session refreshed', severity: 2 },
    outcome: success,
    reason: z.null(),
    // The refresh token itself is never recorded, not even hashed.
    metadata: z.strictObject({ session_id: z.string(), token_expires_at: instant, session_expires_at: instant }),
  },
  refresh_reuse_detected: {
    category: 'authentication',
    cef: { name: 'Refresh token reuse detected', severity: 8 },
    outcome: failure,
    // A rotated token presented again, or a device-bound token presented from another device: the family is revoked.
    reason: z.enum(['refresh_token_reused', 'device_mismatch']),
    metadata: z.strictObject({ session_id: z.string(), rotated_at: instant.nullable() }),
  },
  logout: {
    category: 'authentication',
    cef: { name: 'Logged out', severity: 2 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ scope: z.enum(['session', 'all']), session_id: z.string(), sessions_revoked: count }),
  },
  session_revoked: {
    category: 'administration',
    cef: { name: 'Sessions revoked', severity: 5 },
    outcome: success,
    reason: z.literal('admin_revoked'),
    metadata: z.strictObject({ sessions_revoked: count }),
  },
  ip_throttled: {
    category: 'authentication',
    cef: { name: 'Address throttled', severity: 7 },
    outcome: failure,
    reason: z.enum(['failure_budget', 'spraying']),
    metadata: z.strictObject({
      network,
      throttled_until: instant,
      /** The budget that refused: failures per window. */
      failure_budget: count,
      window_seconds: count,
      /** Distinct accounts the network failed against in the window, this attempt's included. */
      failed_accounts: count,
    }),
  },
  tenant_created: {
    category: 'administration',
    cef: { name: 'Tenant created', severity: 4 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({
      actor_kind: actorKind,
      slug: z.string(),
      name: z.string(),
      registration_mode: z.string(),
      allowed_origins: z.array(z.string()),
      retention_days: count,
      can_download: z.boolean(),
      chain_shards: count,
      lockout_max_failures: count,
      lockout_window_seconds: count,
      lockout_base_seconds: count,
      lockout_multiplier: count,
      lockout_max_seconds: count,
      /** The organisation created with the tenant. */
      organisation_name: z.string(),
    }),
  },
  tenant_plan_changed: {
    category: 'administration',
    cef: { name: 'Tenant plan changed', severity: 5 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind, changes: changes(PLAN_FIELDS) }),
  },
  tenant_settings_changed: {
    category: 'administration',
    cef: { name: 'Tenant settings changed', severity: 4 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind, changes: changes(SETTINGS_FIELDS) }),
  },
  tenant_defence_policy_changed: {
    category: 'administration',
    // Loosening a tenant's throttling or lockout binding is what an attacker with an admin's token would do first.
    cef: { name: 'Tenant defence policy changed', severity: 6 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({
      actor_kind: actorKind,
      /** The policy as it was stored (a tenant created before policies were written whole holds `{}`: every default). */
      from: DefencePolicyChange,
      /** The policy as it is now stored, every setting present. */
      to: CompleteDefencePolicy,
    }),
  },
  organisation_created: {
    category: 'administration',
    cef: { name: 'Organisation created', severity: 3 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind, name: z.string() }),
  },
  user_invited: {
    category: 'administration',
    cef: { name: 'User invited', severity: 4 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind, invitation_id: z.string(), role, expires_at: instant }),
  },
  user_role_changed: {
    category: 'account_state',
    cef: { name: 'User role changed', severity: 6 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind, from: role, to: role }),
  },
  user_disabled: {
    category: 'account_state',
    cef: { name: 'User disabled', severity: 5 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind }),
  },
  user_enabled: {
    category: 'account_state',
    cef: { name: 'User enabled', severity: 4 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind }),
  },
  operator_created: {
    category: 'administration',
    cef: { name: 'Platform operator created', severity: 7 },
    outcome: success,
    reason: z.null(),
    metadata: z.strictObject({ actor_kind: actorKind, operator_id: z.string(), operator_name: z.string() }),
  },
  chain_checkpoint: {
    category: 'administration',
    cef: { name: 'Chain checkpoint signed', severity: 1 },
    outcome: success,
    reason: z.null(),
    // The signed checkpoint of this chain at checkpoint_seq, the position just before this event (see
    // src/core/checkpoint.ts); the shard and tenant are the event's own.
    metadata: z.strictObject({
      checkpoint_seq: count,
      chain_hash: z.string(),
      signed_at: instant,
      key_id: z.string(),
      signature: z.string(),
    }),
  },
} as const satisfies Record<string, EventDefinition>
