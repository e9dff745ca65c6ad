import { z } from '@hono/zod-openapi'
import { CHANNELS, OUTCOMES } from '../../core/event-types.ts'
import { OutboxStatusSchema } from '../admin/outbox.routes.ts'
import { problem, routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'monitoring', bearer: true })

const text = z.string()
const maybeText = z.string().nullable()
const int = z.number().int()
const rate = z.number().nullable().openapi({ description: 'failures / attempts; null without attempts' })
const counts = { attempts: int, failures: int, successes: int }

export const TenantOverviewSchema = z
  .object({
    as_of: text,
    tenant: z.object({ slug: text, name: text, retention_days: int, can_download: z.boolean().openapi({ description: 'Whether the plan allows exports (GET /v1/admin/export)' }) }),
    window: z.object({ from: text, to: text }).openapi({ description: 'The last hour in whole minutes, the current minute included' }),
    totals: z.object({ ...counts, failure_rate: rate, lockouts: int }),
    minutes: z.array(z.object({ start: text, ...counts, failure_rate: rate, lockouts: int })).openapi({ description: 'One bucket per minute of the window, empty ones included' }),
    channels: z.array(z.object({ channel: z.enum(['web', 'mobile']), ...counts })).openapi({ description: 'Login attempts per channel over the window' }),
    locked_accounts: z.object({
      count: int.openapi({ description: 'Identifiers locked now, in your scope' }),
      accounts: z.array(z.object({ identifier: text, user_id: maybeText, locked_until: text, lockout_count: int, last_locked_at: maybeText })),
    }),
    recent_events: z
      .array(
        z.object({
          event_id: text, occurred_at: text,
          event_type: z.enum(['login_failed', 'login_success', 'account_locked', 'lockout_reset']),
          outcome: z.enum(OUTCOMES), reason: maybeText, identifier: maybeText, ip: maybeText, channel: z.enum(CHANNELS),
        }),
      )
      .openapi({ description: 'The latest attempts and lockout changes, newest first' }),
    relay: OutboxStatusSchema,
    chain: z.object({
      shards: int,
      events: int.openapi({ description: "Events in the tenant's chains (the sum of their heads)" }),
      last_checkpoint: z
        .object({ signed_at: text, key_id: text.openapi({ description: 'The signing key (RFC 7638 thumbprint; GET /v1/audit/keys)' }), shard: int, seq: int })
        .nullable()
        .openapi({ description: "The newest signed checkpoint of any of the tenant's chains; null before the first" }),
      last_verification: z
        .object({
          verified_at: text,
          ok: z.boolean(),
          verified_events: int,
          first_break: z.object({ shard: int, seq: int, reason: text, anchor: text.optional() }).nullable(),
          signatures_checked: z.boolean(),
          via: z.enum(['api', 'command']),
          verified_by: z.object({ user_id: text, identifier: maybeText }).nullable().openapi({ description: 'Who asked, through the API; null for the command' }),
          duration_ms: int,
        })
        .nullable()
        .openapi({ description: 'The last recorded verification of the chains (GET /v1/audit/verify or the verify command); null when never verified' }),
    }),
  })
  .openapi('TenantOverview')

const denied = {
  401: problem('Missing or invalid token'),
  403: problem('Requires the admin or auditor role'),
}

export const overviewRoute = route('get', '/overview', "The live overview of the caller's tenant: attempts and failure rate per minute over the last hour, logins per channel, locked accounts, latest attempts, relay health, chain size, last signed checkpoint and last verification", {
  operationId: 'getOverview',
  responses: {
    200: { description: 'The overview now', content: { 'application/json': { schema: TenantOverviewSchema } } },
    ...denied,
  },
})

export const overviewStreamRoute = route('get', '/overview/stream', 'The live overview pushed as Server-Sent Events: one `overview` event at once, then one whenever it changes (at least every few seconds). The session is checked again before each push: a revoked session or a changed role ends the stream with an `end` event; it also ends when the token expires', {
  operationId: 'streamOverview',
  responses: {
    200: {
      description: 'An event stream; each `overview` event carries a TenantOverview as JSON, its id the version of the trail it saw',
      content: { 'text/event-stream': { schema: z.string().openapi({ example: 'event: overview\ndata: {"as_of":"2026-12-01T10:00:00.000Z",…}\nid: 1234\n\n' }) } },
    },
    ...denied,
  },
})
