import { createRoute, z } from '@hono/zod-openapi'
import { AuthEventSchema } from '../../core/auth-event.ts'
import { CHANNELS, EVENT_TYPES, OUTCOMES, isEventType } from '../../core/event-types.ts'
import { parseAddressFilter } from '../../investigation/address-filter.ts'
import { VOLUME_INTERVALS } from '../../investigation/event-volumes.ts'
import { problem } from '../schemas.ts'

const instant = (description: string) =>
  z.iso.datetime({ offset: true }).openapi({ description, example: '2026-11-23T10:00:00Z' })

const IdentifierParam = z.object({
  identifier: z.string().min(1).max(254).openapi({ param: { name: 'identifier', in: 'path' }, example: 'alice@example.com', description: 'The attempted identifier (normalised before lookup)' }),
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

export const eventsRoute = createRoute({
  method: 'get',
  path: '/events',
  tags: ['investigation'],
  summary: "Search the caller's tenant events by user, identifier, IP or CIDR, type, channel, outcome and time; keyset pages",
  security: [{ bearerAuth: [] }],
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
    identifier: z.string(),
    user_id: z.string().nullable(),
    locked: z.boolean(),
    account_locked_until: z.string().nullable(),
    retry_after_seconds: z.number().int().nullable(),
    failed_login_attempts: z.number().int(),
    failures_until_lockout: z.number().int(),
    window_started_at: z.string().nullable(),
    last_failed_at: z.string().nullable(),
    lockout_count: z.number().int(),
    last_locked_at: z.string().nullable(),
    updated_at: z.string(),
    as_of: z.string(),
  })
  .openapi('LockoutStatus')

export const lockoutStatusRoute = createRoute({
  method: 'get',
  path: '/lockouts/{identifier}',
  tags: ['investigation'],
  summary: 'The live lockout state of an identifier (the state row itself)',
  security: [{ bearerAuth: [] }],
  request: { params: IdentifierParam },
  responses: {
    200: { description: 'Lockout state', content: { 'application/json': { schema: LockoutStatusSchema } } },
    404: problem('No lockout state for this identifier (never attempted, or not in your scope)'),
    ...scopeFailures,
  },
})

const AttemptSchema = z.object({
  event_id: z.string(),
  occurred_at: z.string(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  channel: z.enum(CHANNELS),
  device_id: z.string().nullable(),
})

export const LockoutDiagnosticsSchema = z
  .object({
    identifier: z.string(),
    lockouts: z.array(
      z.object({
        lock_event_id: z.string(),
        shard: z.number().int(),
        seq: z.number().int(),
        locked_at: z.string(),
        locked_until: z.string().nullable(),
        lockout_count: z.number().int().nullable(),
        lock_duration_seconds: z.number().int().nullable(),
        failed_attempts: z.number().int(),
        triggering_failures: z.array(AttemptSchema.extend({ seq: z.number().int(), failed_attempts: z.number().int().nullable() })),
        distinct_ips: z.array(z.string()),
        distinct_user_agents: z.array(z.string().nullable()),
        attempts_while_locked: z.number().int(),
        ended_by: z
          .object({ event_id: z.string(), occurred_at: z.string(), reason: z.string().nullable(), actor_id: z.string().nullable(), channel: z.enum(CHANNELS) })
          .nullable(),
      }),
    ),
  })
  .openapi('LockoutDiagnostics')

export const lockoutDiagnosticsRoute = createRoute({
  method: 'get',
  path: '/lockouts/{identifier}/diagnostics',
  tags: ['investigation'],
  summary: 'For each lockout of an identifier, the failed attempts that triggered it (IPs, user agents, times) and how it ended',
  security: [{ bearerAuth: [] }],
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
  identifier: z.string(),
  user_id: z.string().nullable(),
  failures: z.number().int(),
  distinct_ips: z.number().int(),
  lockouts: z.number().int(),
  successes: z.number().int(),
  first_failure_at: z.string(),
  last_failure_at: z.string(),
})

const SourceActivitySchema = z.object({
  ip: z.string(),
  failures: z.number().int(),
  successes: z.number().int(),
  distinct_accounts: z.number().int(),
  lockouts_triggered: z.number().int(),
  first_seen_at: z.string(),
  last_seen_at: z.string(),
})

const SummarySchema = AttemptSchema.extend({ reason: z.string().nullable() })

export const IncidentReportSchema = z
  .object({
    window: z.object({ from: z.string(), to: z.string() }),
    parameters: z.object({ min_failures: z.number().int(), spray_min_accounts: z.number().int(), distributed_min_ips: z.number().int(), limit: z.number().int() }),
    totals: z.object({
      login_attempts: z.number().int(),
      failures: z.number().int(),
      successes: z.number().int(),
      lockouts: z.number().int(),
      targeted_accounts: z.number().int(),
      source_ips: z.number().int(),
      suspicious_successes: z.number().int(),
    }),
    targeted_accounts: z.array(AccountActivitySchema),
    distributed_attacks: z.array(AccountActivitySchema),
    source_ips: z.array(SourceActivitySchema),
    password_spraying: z.array(SourceActivitySchema),
    lockout_timeline: z.array(
      z.object({
        event_id: z.string(),
        occurred_at: z.string(),
        event_type: z.enum(['account_locked', 'lockout_reset']),
        identifier: z.string().nullable(),
        user_id: z.string().nullable(),
        ip: z.string().nullable(),
        channel: z.enum(CHANNELS),
        reason: z.string().nullable(),
        actor_id: z.string().nullable(),
        locked_until: z.string().nullable(),
        failed_attempts: z.number().int().nullable(),
        lockout_count: z.number().int().nullable(),
      }),
    ),
    suspicious_successes: z.array(
      SummarySchema.extend({
        identifier: z.string(),
        user_id: z.string().nullable(),
        preceding_failures: z.number().int(),
        failures: z.array(SummarySchema),
        failures_truncated: z.boolean(),
        failure_ips: z.array(z.string()),
        ip_seen_in_failures: z.boolean(),
      }),
    ),
    truncated: z.record(z.string(), z.boolean()),
  })
  .openapi('IncidentReport')

export const incidentReportRoute = createRoute({
  method: 'get',
  path: '/incident-report',
  tags: ['investigation'],
  summary: 'Reconstruct an attack in a time window: targeted accounts, source IPs, spraying, distributed attacks, lockouts, suspicious successes',
  security: [{ bearerAuth: [] }],
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
    from: z.string(),
    to: z.string(),
    interval_seconds: z.number().int(),
    buckets: z.array(
      z.object({
        start: z.string(),
        login_attempts: z.number().int(),
        failures: z.number().int(),
        successes: z.number().int(),
        failure_rate: z.number().nullable(),
        lockouts: z.number().int(),
        events: z.number().int(),
        distinct_source_ips: z.number().int(),
      }),
    ),
  })
  .openapi('EventVolumes')

export const eventVolumesRoute = createRoute({
  method: 'get',
  path: '/volumes',
  tags: ['investigation'],
  summary: 'Event volumes and failure rates per interval, every bucket present',
  security: [{ bearerAuth: [] }],
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
