import { z } from '@hono/zod-openapi'
import { EVENT_TYPES } from '../../core/event-types.ts'
import { SINK_NAMES } from '../../sinks/event-sink.ts'
import { problem, routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'outbox', bearer: true })

const SinkName = z.enum(SINK_NAMES).openapi({ example: 'docstore' })

export const OutboxStatusSchema = z
  .object({
    sinks: z.array(
      z.object({
        sink: z.string(),
        undelivered: z.number().int().openapi({ description: "The tenant's events this sink has not received yet" }),
        lag_seconds: z.number().openapi({ description: 'Age of the oldest of them; 0 when none' }),
        dead_letters: z.number().int().openapi({ description: 'Dead letters not re-driven yet' }),
        retrying_chains: z.number().int().openapi({ description: 'Chains backing off after a failed delivery' }),
        last_error: z.string().nullable().openapi({ description: 'The latest error of a chain still backing off (null when none is)' }),
        last_error_at: z.string().datetime().nullable().openapi({ description: 'When that error was recorded' }),
      }),
    ),
  })
  .openapi('OutboxStatus')

export const DeadLetterSchema = z
  .object({
    sink: z.string(),
    event_id: z.string().uuid(),
    shard: z.number().int(),
    seq: z.number().int(),
    event_type: z.enum(EVENT_TYPES),
    occurred_at: z.string(),
    attempts: z.number().int(),
    last_error: z.string(),
    dead_at: z.string(),
    redriven_at: z.string().nullable(),
  })
  .openapi('DeadLetter')

export const DeadLetterQuery = z.object({
  sink: SinkName.optional(),
  state: z.enum(['pending', 'all']).default('pending').openapi({ description: '`pending`: not re-driven yet' }),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})

export const RedriveBody = z
  .object({
    sink: SinkName,
    event_ids: z.array(z.string().uuid()).min(1).max(1000).optional().openapi({ description: "Only these events; by default all of the tenant's pending dead letters" }),
    limit: z.number().int().min(1).max(1000).default(1000),
  })
  .strict()
  .openapi('RedriveRequest')

export const RedriveResultSchema = z
  .object({
    redriven: z.array(z.string().uuid()),
    failed: z.array(z.object({ event_id: z.string().uuid(), error: z.string() })),
    audit_event_ids: z.array(z.string().uuid()).openapi({ description: 'The dead_letters_redriven events recorded, one per chain' }),
  })
  .openapi('RedriveResult')

const denied = {
  401: problem('Missing or invalid token'),
  403: problem('Requires the admin role'),
}

export const outboxStatusRoute = route('get', '/status', "Replication lag, backlog and dead letters of the caller's tenant, per sink", {
  operationId: 'getOutboxStatus',
  responses: { 200: { description: 'Per-sink status', content: { 'application/json': { schema: OutboxStatusSchema } } }, ...denied },
})

export const deadLettersRoute = route('get', '/dead-letters', "The caller's tenant's events a sink refused, newest first", {
  operationId: 'listDeadLetters',
  request: { query: DeadLetterQuery },
  responses: {
    200: { description: 'Dead letters', content: { 'application/json': { schema: z.object({ items: z.array(DeadLetterSchema) }) } } },
    400: problem('Invalid query'),
    ...denied,
  },
})

export const redriveRoute = route('post', '/dead-letters/redrive', "Deliver the caller's tenant's dead letters again and audit the re-drive", {
  operationId: 'redriveDeadLetters',
  request: { body: { required: true, content: { 'application/json': { schema: RedriveBody } } } },
  responses: {
    200: { description: 'What was re-delivered and what still fails', content: { 'application/json': { schema: RedriveResultSchema } } },
    400: problem('Invalid request'),
    ...denied,
    404: problem('The sink is not configured in this process'),
  },
})
