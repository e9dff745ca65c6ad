import type { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from '../../http/app-env.ts'
import type { ServiceMetrics } from '../../metrics/service-metrics.ts'
import { createRouter } from '../create-router.ts'
import { metricsRoute } from './metrics.routes.ts'

/**
 * GET /metrics. It is unauthenticated like any Prometheus target: expose it on the internal network only
 * (its labels carry no tenant, identifier or address). Mounted at the root.
 */
export function createMetricsRoutes(metrics: Pick<ServiceMetrics, 'render'>): OpenAPIHono<AppEnv> {
  const operations = createRouter()
  operations.openapi(metricsRoute, async () => {
    const { contentType, body } = await metrics.render()
    return new Response(body, { status: 200, headers: { 'Content-Type': contentType, 'Cache-Control': 'no-store' } }) as never
  })
  return operations
}
