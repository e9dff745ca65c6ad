import type { OpenAPIHono } from '@hono/zod-openapi'
import { constantTimeEqual } from '../../core/digests.ts'
import type { AppEnv } from '../../http/app-env.ts'
import { problemResponse } from '../../http/problem-response.ts'
import { ApiError } from '../../errors/codes.ts'
import type { ServiceMetrics } from '../../metrics/service-metrics.ts'
import { createRouter } from '../create-router.ts'
import { metricsRoute } from './metrics.routes.ts'

/** Who may read GET /metrics: anyone (development), the holder of METRICS_TOKEN, or nobody on this app. */
export type MetricsAccess = { kind: 'public' } | { kind: 'token'; token: string } | { kind: 'none' }

const utf8 = new TextEncoder()

function presents(authorization: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(authorization ?? '')?.[1] ?? ''
  return constantTimeEqual(utf8.encode(given), utf8.encode(token))
}

/**
 * GET /metrics. Its labels carry no tenant, identifier or address, but its values describe the whole
 * service (locked accounts across tenants, throttled networks): outside development it is served behind
 * METRICS_TOKEN or on a listener of its own (METRICS_PORT). Mounted at the root.
 */
export function createMetricsRoutes(metrics: Pick<ServiceMetrics, 'render'>, access: MetricsAccess = { kind: 'public' }): OpenAPIHono<AppEnv> {
  const operations = createRouter()
  operations.openapi(metricsRoute, async (c) => {
    if (access.kind === 'token' && !presents(c.req.header('authorization'), access.token)) {
      return problemResponse(c, ApiError.from('unauthorized', 'GET /metrics needs the metrics token (METRICS_TOKEN)')) as never
    }
    const { contentType, body } = await metrics.render()
    return c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }) as never
  })
  return operations
}
