/** The closed set of audit event types. Adding one means adding it to every map keyed by EventType. */
export const EVENT_TYPES = [
  'login_failed',
  'account_locked',
  'login_success',
  'lockout_reset',
  'registration_succeeded',
  'registration_failed',
  'audit_exported',
  'retention_purged',
  'dead_letters_redriven',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Where an event came from: the two login surfaces, an administrator, or the service itself. */
export const CHANNELS = ['web', 'mobile', 'admin', 'system'] as const
export type Channel = (typeof CHANNELS)[number]

export const OUTCOMES = ['success', 'failure'] as const
export type Outcome = (typeof OUTCOMES)[number]

/** Whether an event type records an authentication attempt, an account-state change, or an admin action. */
export const EVENT_CATEGORY = {
  login_failed: 'authentication',
  account_locked: 'account_state',
  login_success: 'authentication',
  lockout_reset: 'account_state',
  registration_succeeded: 'registration',
  registration_failed: 'registration',
  audit_exported: 'administration',
  retention_purged: 'administration',
  dead_letters_redriven: 'administration',
} as const satisfies Record<EventType, 'authentication' | 'account_state' | 'registration' | 'administration'>

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value)
}
