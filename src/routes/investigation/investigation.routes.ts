import { z } from '@hono/zod-openapi'
import { AuthEventSchema } from '../../core/auth-event.ts'
import { CHANNELS, EVENT_TYPES, OUTCOMES, isEventType } from '../../core/event-types.ts'
import { parseAddressFilter } from '../../investigation/address-filter.ts'
import { VOLUME_INTERVALS } from '../../investigation/event-volumes.ts'
import { problem, routesOf, storable } from '../schemas.ts'

const route = routesOf({ tag: 'investigation', bearer: true })

// The field types of the answers below, which list many fields each.
const text = z.string()
const maybeText = z.string().nullable()
const int = z.number().int()

const instant = (description: string) =>
  z.iso.datetime({ offset: true }).openapi({ description, example: '2026-11-23T10:00:00Z' })

const IdentifierParam = z.object({
  identifier: storable(z.string().min(1).max(254)).openapi({ param: { name: 'identifier', in: 'path' }, example: 'alice@example.com', description: 'The attempted identifier (normalised before lookup)' }),
})

const scopeFailures = {
  400: problem('Invalid parameters (the problem names them)'),
  401: problem('Missing or invalid token'),
  403: problem('Requires the admin or auditor role'),
}

// Events ------------------------------------------------------------------------------------------------

export const EventsQuery = z.object({
  user_id: z.uuid().optional().openapi({ description: 'Events of this account' }),
  identifier: z.string().min(1).max(254).optional().openapi({ description: 'Events naming this attempted identifier' }),
  ip: z
    .string()
    .max(64)
    .refine((v) => parseAddressFilter(v) !== null, 'must be an IP address or a CIDR block')
    .optional()
    .openapi({ description: 'An address or a CIDR block', example: '203.0.113.0/24' }),
  event_type: z
    .string()
    .max(400)
    .refine((v) => v.split(',').every((t) => isEventType(t.trim())), `must be a comma-separated list of: ${EVENT_TYPES.join(', ')}`)
    .optional()
    .openapi({ description: 'One or more event types, comma-separated', example: 'login_failed,account_locked' }),
  channel: z.enum(CHANNELS).optional(),
  outcome: z.enum(OUTCOMES).optional(),
  from: instant('Inclusive lower bound of occurred_at').optional(),
  to: instant('Exclusive upper bound of occurred_at').optional(),
  order: z.enum(['newest', 'oldest']).default('newest'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(512).optional().openapi({ description: 'next_cursor of the previous page' }),
})

/** A listed event: every field of the event definition but the tenant (the caller's), and its chain hash. */
export const InvestigatedEventSchema = AuthEventSchema.omit({ tenant_id: true })
  .extend({ chain_hash: z.string() })
  .openapi('InvestigatedEvent')

export const eventsRoute = route('get', '/events', "Search the caller's tenant events by user, identifier, IP or CIDR, type, channel, outcome and time; keyset pages", {
  operationId: 'searchEvents',
  request: { query: EventsQuery },
  responses: {
    200: {
      description: 'One page of events',
      content: {
        'application/json': {
          schema: z.object({ events: z.array(InvestigatedEventSchema), next_cursor: z.string().nullable() }).openapi('EventPage'),
        },
      },
    },
    ...scopeFailures,
  },
})

// Lockouts ----------------------------------------------------------------------------------------------

export const LockoutStatusSchema = z
  .object({
    identifier: text,
    user_id: maybeText,
    locked: z.boolean(),
    account_locked_until: maybeText,
    retry_after_seconds: int.nullable(),
    // The counters as a login at as_of would see them.
    failed_login_attempts: int, failures_until_lockout: int,
    window_started_at: maybeText, last_failed_at: maybeText,
    lockout_count: int, last_locked_at: maybeText,
    updated_at: text, as_of: text,
  })
  .openapi('LockoutStatus')

export const lockoutStatusRoute = route('get', '/lockouts/{identifier}', 'The live lockout state of an identifier (the state row itself)', {
  operationId: 'getLockoutStatus',
  request: { params: IdentifierParam },
  responses: {
    200: { description: 'Lockout state', content: { 'application/json': { schema: LockoutStatusSchema } } },
    404: problem('No lockout state for this identifier (never attempted, or not in your scope)'),
    ...scopeFailures,
  },
})

const AttemptSchema = z.object({ event_id: text, occurred_at: text, ip: maybeText, user_agent: maybeText, channel: z.enum(CHANNELS), device_id: maybeText })

export const LockoutDiagnosticsSchema = z
  .object({
    identifier: z.string(),
    lockouts: z.array(
      z.object({
        lock_event_id: text, shard: int, seq: int,
        locked_at: text, locked_until: maybeText,
        lockout_count: int.nullable(), lock_duration_seconds: int.nullable(), failed_attempts: int,
        triggering_failures: z.array(AttemptSchema.extend({ seq: int, failed_attempts: int.nullable() })),
        distinct_ips: z.array(text),
        distinct_user_agents: z.array(maybeText),
        attempts_while_locked: int,
        ended_by: z.object({ event_id: text, occurred_at: text, reason: maybeText, actor_id: maybeText, channel: z.enum(CHANNELS) }).nullable(),
      }),
    ),
  })
  .openapi('LockoutDiagnostics')

export const lockoutDiagnosticsRoute = route('get', '/lockouts/{identifier}/diagnostics', 'For each lockout of an identifier, the failed attempts that triggered it (IPs, user agents, times) and how it ended', {
  operationId: 'getLockoutDiagnostics',
  request: {
    params: IdentifierParam,
    query: z.object({
      from: instant('Lockouts at or after').optional(),
      to: instant('Lockouts before').optional(),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
  },
  responses: {
    200: { description: 'Lockouts, newest first (an empty list when there were none in scope)', content: { 'application/json': { schema: LockoutDiagnosticsSchema } } },
    ...scopeFailures,
  },
})

// Incident report ---------------------------------------------------------------------------------------

/** The longest window one report may cover. */
export const MAX_INCIDENT_WINDOW_DAYS = 92

const AccountActivitySchema = z.object({
  identifier: text, user_id: maybeText,
  failures: int, distinct_ips: int, lockouts: int, successes: int,
  first_failure_at: text, last_failure_at: text,
})

const SourceActivitySchema = z.object({
  ip: text,
  failures: int, successes: int, distinct_accounts: int, lockouts_triggered: int,
  first_seen_at: text, last_seen_at: text,
})

const SummarySchema = AttemptSchema.extend({ reason: maybeText })

export const IncidentReportSchema = z
  .object({
    window: z.object({ from: text, to: text }),
    parameters: z.object({ min_failures: int, spray_min_accounts: int, distributed_min_ips: int, limit: int }),
    totals: z.object({
      login_attempts: int, failures: int, successes: int, lockouts: int,
      targeted_accounts: int, source_ips: int, suspicious_successes: int,
    }),
    targeted_accounts: z.array(AccountActivitySchema),
    distributed_attacks: z.array(AccountActivitySchema),
    source_ips: z.array(SourceActivitySchema),
    password_spraying: z.array(SourceActivitySchema),
    throttled_addresses: z.array(
      z.object({
        network: text, episodes: int, throttled_attempts: int, reasons: z.array(z.enum(['failure_budget', 'spraying'])),
        first_throttled_at: text, last_throttled_at: text,
      }),
    ),
    lockout_timeline: z.array(
      z.object({
        event_id: text, occurred_at: text, event_type: z.enum(['account_locked', 'lockout_reset']),
        identifier: maybeText, user_id: maybeText, ip: maybeText, channel: z.enum(CHANNELS),
        reason: maybeText, actor_id: maybeText,
        locked_until: maybeText, failed_attempts: int.nullable(), lockout_count: int.nullable(),
      }),
    ),
    suspicious_successes: z.array(
      SummarySchema.extend({
        identifier: text, user_id: maybeText,
        preceding_failures: int, failures: z.array(SummarySchema), failures_truncated: z.boolean(),
        failure_ips: z.array(text), ip_seen_in_failures: z.boolean(),
      }),
    ),
    truncated: z.record(z.string(), z.boolean()),
  })
  .openapi('IncidentReport')

export const incidentReportRoute = route('get', '/incident-report', 'Reconstruct an attack in a time window: targeted accounts, source IPs, spraying, distributed attacks, lockouts, suspicious successes', {
  operationId: 'getIncidentReport',
  request: {
    query: z.object({
      from: instant('Window start (inclusive)'),
      to: instant(`Window end (exclusive); at most ${MAX_INCIDENT_WINDOW_DAYS} days after from`),
      min_failures: z.coerce.number().int().min(1).max(10_000).default(3).openapi({ description: 'Failures before a success that make it suspicious' }),
      spray_min_accounts: z.coerce.number().int().min(2).max(10_000).default(3),
      distributed_min_ips: z.coerce.number().int().min(2).max(10_000).default(3),
      limit: z.coerce.number().int().min(1).max(1000).default(50),
    }),
  },
  responses: {
    200: { description: 'The incident report', content: { 'application/json': { schema: IncidentReportSchema } } },
    ...scopeFailures,
  },
})

// Volumes -----------------------------------------------------------------------------------------------

export const EventVolumesSchema = z
  .object({
    from: text, to: text, interval_seconds: int,
    buckets: z.array(
      z.object({
        start: text,
        login_attempts: int, failures: int, successes: int, failure_rate: z.number().nullable(),
        lockouts: int, events: int, distinct_source_ips: int,
      }),
    ),
  })
  .openapi('EventVolumes')

export const eventVolumesRoute = route('get', '/volumes', 'Event volumes and failure rates per interval, every bucket present', {
  operationId: 'getEventVolumes',
  request: {
    query: z.object({
      from: instant('Window start (inclusive), also the bucket origin'),
      to: instant('Window end (exclusive)'),
      interval: z.enum(Object.keys(VOLUME_INTERVALS) as [keyof typeof VOLUME_INTERVALS, ...(keyof typeof VOLUME_INTERVALS)[]]).default('1h'),
      channel: z.enum(CHANNELS).optional(),
    }),
  },
  responses: {
    200: { description: 'Buckets in time order', content: { 'application/json': { schema: EventVolumesSchema } } },
    ...scopeFailures,
  },
})
