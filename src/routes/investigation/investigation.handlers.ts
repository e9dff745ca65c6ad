import type { OpenAPIHono } from '@hono/zod-openapi'
import type { TokenService } from '../../auth/tokens.ts'
import { isEventType, type EventType } from '../../core/event-types.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import type { Sql } from '../../db/client.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppEnv } from '../../http/app-env.ts'
import { requireRole } from '../../http/require-role.ts'
import { parseAddressFilter } from '../../investigation/address-filter.ts'
import { queryEventVolumes, TooManyBucketsError, VOLUME_INTERVALS } from '../../investigation/event-volumes.ts'
import { buildIncidentReport } from '../../investigation/incident-report.ts'
import { scopeOfSession } from '../../core/tenancy.ts'
import { getLockoutDiagnostics } from '../../investigation/lockout-diagnostics.ts'
import { getLockoutStatus } from '../../investigation/lockout-status.ts'
import { InvalidCursorError, queryEvents } from '../../investigation/query-events.ts'
import { createRouter } from '../create-router.ts'
import {
  eventsRoute,
  eventVolumesRoute,
  incidentReportRoute,
  lockoutDiagnosticsRoute,
  lockoutStatusRoute,
  MAX_INCIDENT_WINDOW_DAYS,
} from './investigation.routes.ts'

export interface InvestigationRouteDeps {
  sql: Sql
  tokens: TokenService
  clock: () => Date
}

const DAY_MS = 86_400_000

function invalid(field: string, detail: string): ApiError {
  return ApiError.from('validation_failed', `invalid query: ${field}`, [{ field, detail }])
}

/** Parses a validated optional window; `to` must follow `from`. */
function parseWindow(query: { from?: string; to?: string }): { from?: Date; to?: Date } {
  const from = query.from === undefined ? undefined : new Date(query.from)
  const to = query.to === undefined ? undefined : new Date(query.to)
  if (from && to && to.getTime() <= from.getTime()) throw invalid('to', 'must be later than from')
  return { from, to }
}

/**
 * The investigation API, for the admin and auditor roles: events, lockout status and diagnostics, the
 * incident report and volumes. Every query is scoped to the token's tenant and organisation in SQL.
 * Mounted at /v1/investigation.
 */
export function createInvestigationRoutes(deps: InvestigationRouteDeps): OpenAPIHono<AppEnv> {
  const { sql } = deps
  const app = createRouter()
  app.use('*', requireRole(deps.tokens, ['admin', 'auditor']))

  app.openapi(eventsRoute, async (c) => {
    const q = c.req.valid('query')
    const window = parseWindow(q)
    try {
      const page = await queryEvents(
        sql,
        scopeOfSession(c.get('session')),
        {
          userId: q.user_id,
          identifier: q.identifier === undefined ? undefined : normalizeIdentifier(q.identifier),
          address: q.ip === undefined ? undefined : parseAddressFilter(q.ip)!,
          eventTypes: q.event_type?.split(',').map((t) => t.trim()).filter((t): t is EventType => isEventType(t)),
          channel: q.channel,
          outcome: q.outcome,
          ...window,
        },
        { order: q.order, limit: q.limit, cursor: q.cursor ?? null },
      )
      return c.json(page, 200)
    } catch (error) {
      if (error instanceof InvalidCursorError) throw invalid('cursor', error.message)
      throw error
    }
  })

  app.openapi(lockoutStatusRoute, async (c) => {
    const identifier = normalizeIdentifier(c.req.valid('param').identifier)
    const status = await getLockoutStatus(sql, scopeOfSession(c.get('session')), identifier, deps.clock())
    if (!status) throw ApiError.from('not_found', 'no lockout state for this identifier')
    c.header('Cache-Control', 'no-store')
    return c.json(status, 200)
  })

  app.openapi(lockoutDiagnosticsRoute, async (c) => {
    const identifier = normalizeIdentifier(c.req.valid('param').identifier)
    const q = c.req.valid('query')
    const diagnostics = await getLockoutDiagnostics(sql, scopeOfSession(c.get('session')), identifier, { ...parseWindow(q), limit: q.limit })
    return c.json(diagnostics, 200)
  })

  app.openapi(incidentReportRoute, async (c) => {
    const q = c.req.valid('query')
    const { from, to } = parseWindow(q) as { from: Date; to: Date }
    if (to.getTime() - from.getTime() > MAX_INCIDENT_WINDOW_DAYS * DAY_MS) throw invalid('to', `the window may span at most ${MAX_INCIDENT_WINDOW_DAYS} days`)
    const report = await buildIncidentReport(sql, scopeOfSession(c.get('session')), {
      from,
      to,
      minFailures: q.min_failures,
      sprayMinAccounts: q.spray_min_accounts,
      distributedMinIps: q.distributed_min_ips,
      limit: q.limit,
    })
    return c.json(report, 200)
  })

  app.openapi(eventVolumesRoute, async (c) => {
    const q = c.req.valid('query')
    const { from, to } = parseWindow(q) as { from: Date; to: Date }
    try {
      const volumes = await queryEventVolumes(sql, scopeOfSession(c.get('session')), {
        from,
        to,
        intervalSeconds: VOLUME_INTERVALS[q.interval],
        channel: q.channel,
      })
      return c.json(volumes, 200)
    } catch (error) {
      if (error instanceof TooManyBucketsError) throw invalid('interval', error.message)
      throw error
    }
  })
  return app
}
