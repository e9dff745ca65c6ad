import { z } from '@hono/zod-openapi'
import { routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'operations', bearer: false })

export const metricsRoute = route('get', '/metrics', 'Prometheus metrics of the service and its relay (no tenant data in any label)', {
  operationId: 'getMetrics',
  responses: {
    200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string() } } },
  },
})
