import type { OpenAPIHono } from '@hono/zod-openapi'
import type { TokenService } from '../../auth/tokens.ts'
import type { Sql } from '../../db/client.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppEnv } from '../../http/app-env.ts'
import type { OriginReader } from '../../http/client-origin.ts'
import { requireRole } from '../../http/require-role.ts'
import { snakeCased } from '../../http/snake-cased.ts'
import { listDeadLetters } from '../../outbox/list-dead-letters.ts'
import { redriveDeadLetters } from '../../admin/redrive-dead-letters.ts'
import { getRelayStatus } from '../../outbox/relay-status.ts'
import type { EventSink } from '../../sinks/event-sink.ts'
import { createRouter } from '../create-router.ts'
import { deadLettersRoute, outboxStatusRoute, redriveRoute } from './outbox.routes.ts'

export interface OutboxRouteDeps {
  sql: Sql
  tokens: TokenService
  /** The sinks this process delivers to: the ones re-drives can use and status reports. */
  sinks: readonly EventSink[]
  origin: OriginReader
  clock: () => Date
}

/**
 * The outbox administration routes, for admins. Every query is scoped to the caller's tenant: an admin
 * sees and re-drives only their own tenant's events. Mounted at /v1/admin/outbox.
 */
export function createOutboxRoutes(deps: OutboxRouteDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()
  const admin = requireRole(deps.tokens, ['admin'])
  app.use(outboxStatusRoute.path, admin)
  app.use(deadLettersRoute.path, admin)
  app.use(redriveRoute.path, admin)
  const configured = deps.sinks.map((s) => s.name)

  app.openapi(outboxStatusRoute, async (c) => {
    const status = await getRelayStatus(deps.sql, { tenantId: c.get('session').tid, sinks: configured.length > 0 ? configured : undefined })
    return c.json({ sinks: status.map(snakeCased) }, 200)
  })

  app.openapi(deadLettersRoute, async (c) => {
    const query = c.req.valid('query')
    const items = await listDeadLetters(deps.sql, { tenantId: c.get('session').tid, sink: query.sink, state: query.state, limit: query.limit })
    return c.json({ items: items.map(({ tenantId: _tenant, ...deadLetter }) => snakeCased(deadLetter)) }, 200)
  })

  app.openapi(redriveRoute, async (c) => {
    const body = c.req.valid('json')
    const sink = deps.sinks.find((s) => s.name === body.sink)
    if (!sink) throw ApiError.from('not_found', `sink ${body.sink} is not configured`)
    const session = c.get('session')
    const origin = deps.origin(c, 'admin')
    const result = await redriveDeadLetters(
      deps.sql,
      body.sink,
      sink,
      { tenantId: session.tid, eventIds: body.event_ids, limit: body.limit },
      { actor: { channel: 'admin', actorId: session.sub, organisationId: session.org, ip: origin.ip, userAgent: origin.userAgent }, now: deps.clock() },
    )
    return c.json({ ...snakeCased(result), failed: result.failed.map(snakeCased) }, 200)
  })
  return app
}
