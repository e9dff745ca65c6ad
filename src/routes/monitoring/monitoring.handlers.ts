import type { OpenAPIHono } from '@hono/zod-openapi'
import { streamSSE } from 'hono/streaming'
import type { TokenService } from '../../auth/tokens.ts'
import { scopeOfSession, type TenantScope } from '../../core/tenancy.ts'
import type { Sql } from '../../db/client.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppEnv } from '../../http/app-env.ts'
import { requireRole } from '../../http/require-role.ts'
import { snakeCased } from '../../http/snake-cased.ts'
import { createOverviewFeed } from '../../monitoring/overview-feed.ts'
import { readTenantOverview, readTrailVersion, type TenantOverview } from '../../monitoring/tenant-overview.ts'
import type { EventSink } from '../../sinks/event-sink.ts'
import { createRouter } from '../create-router.ts'
import { overviewRoute, overviewStreamRoute } from './monitoring.routes.ts'

export interface MonitoringRouteDeps {
  sql: Sql
  tokens: TokenService
  clock: () => Date
  /** The sinks this process delivers to, whose health the overview reports. */
  sinks: readonly EventSink[]
  log: (entry: Record<string, unknown>) => void
  /** Aborted when the service shuts down: open streams end so that the server can close. */
  closing?: AbortSignal
  /** How often a watched tenant's trail is checked for new events (default 1 s). */
  pollMs?: number
  /** How often an overview is recomputed without new events (default 5 s). */
  refreshMs?: number
}

/** The wire form of an overview: snake_case throughout. */
const onTheWire = (overview: TenantOverview) => ({ ...overview, relay: { sinks: overview.relay.sinks.map(snakeCased) } })

/**
 * The live overview for the admin and auditor roles, as JSON and as Server-Sent Events, scoped like the
 * investigation API. Every stream of a scope shares one poll of the database. Mounted at /v1/monitoring.
 */
export function createMonitoringRoutes(deps: MonitoringRouteDeps): OpenAPIHono<AppEnv> {
  const app = createRouter()
  app.use('*', requireRole(deps.tokens, ['admin', 'auditor']))
  const sinks = deps.sinks.map((s) => s.name)
  const read = async (scope: TenantScope) => {
    const overview = await readTenantOverview({ sql: deps.sql, sinks }, scope, deps.clock())
    if (!overview) throw ApiError.from('not_found', 'no such tenant')
    return overview
  }
  const feed = createOverviewFeed({
    read,
    version: (tenantId) => readTrailVersion(deps.sql, tenantId),
    pollMs: deps.pollMs ?? 1000,
    refreshMs: deps.refreshMs ?? 5000,
    now: () => deps.clock().getTime(),
    log: deps.log,
  })

  app.openapi(overviewRoute, async (c) => {
    c.header('Cache-Control', 'no-store')
    return c.json(onTheWire(await read(scopeOfSession(c.get('session')))), 200)
  })

  app.openapi(overviewStreamRoute, async (c) => {
    const session = c.get('session')
    const scope = scopeOfSession(session)
    // Refused before the stream opens, as a problem, if the tenant is gone.
    const first = await read(scope)
    const recheck = c.get('recheckSession')
    const response = streamSSE(c, async (stream) => {
      let end = () => {}
      let sent = Promise.resolve()
      // Before each push the session is checked again, as every request's is: a revoked session, a user
      // whose role changed or a deleted session ends the stream at the next push (at most refreshMs).
      const send = (overview: TenantOverview) => {
        sent = sent.then(async () => {
          try {
            await recheck()
          } catch (error) {
            const detail = error instanceof ApiError ? error.detail : 'the session is no longer valid'
            await stream.writeSSE({ event: 'end', data: JSON.stringify({ reason: 'session_ended', detail }) })
            end()
            return
          }
          await stream.writeSSE({ event: 'overview', data: JSON.stringify(onTheWire(overview)), id: String(overview.chain.events) })
        })
        return sent
      }
      await stream.writeSSE({ event: 'overview', data: JSON.stringify(onTheWire(first)), id: String(first.chain.events), retry: 2000 })
      const unsubscribe = feed.subscribe(scope, (overview) => void send(overview).catch(() => {}))
      // The stream lives as long as the token it was opened with: a client must sign in again to go on.
      await new Promise<void>((resolve) => {
        const expiry = setTimeout(resolve, Math.max(0, session.exp * 1000 - deps.clock().getTime()))
        end = () => {
          clearTimeout(expiry)
          resolve()
        }
        stream.onAbort(end)
        if (deps.closing?.aborted) end()
        deps.closing?.addEventListener('abort', end, { once: true })
      })
      unsubscribe()
    })
    // The connection closes with the stream instead of lingering idle: a server shutting down is not kept
    // waiting by a socket the client would reuse to reconnect.
    response.headers.set('Connection', 'close')
    return response as never
  })
  return app
}
