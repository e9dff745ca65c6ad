import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from '../http/app-env.ts'
import type { ServiceMetrics } from './service-metrics.ts'

export const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['operations'],
  summary: 'Prometheus metrics of the service and its relay (no tenant data in any label)',
  responses: {
    200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string() } } },
  },
})

/**
 * Serves GET /metrics. It is unauthenticated like any Prometheus target: expose it on the internal
 * network only (its labels carry no tenant, identifier or address).
 */
export function registerMetricsRoute(app: OpenAPIHono<AppEnv>, metrics: ServiceMetrics): void {
  app.openapi(metricsRoute, async () => {
    const { contentType, body } = await metrics.render()
    return new Response(body, { status: 200, headers: { 'Content-Type': contentType, 'Cache-Control': 'no-store' } }) as never
  })
}
