import { describe, expect, it } from 'vitest'
import { OPENAPI_INFO } from '../src/app.ts'
import { createSql } from '../src/db/client.ts'
import { createServiceMetrics } from '../src/metrics/service-metrics.ts'
import { createTestApp } from './support/test-app.ts'

describe('OpenAPI document with the investigation extension', () => {
  it('declares every investigation, admin and metrics route, errors as problem+json', async () => {
    const sql = createSql('postgres://openapi@127.0.0.1:1/none', { max: 1 })
    const t = await createTestApp(sql, { metrics: createServiceMetrics({ defaultMetrics: false }) })
    const doc = t.app.getOpenAPI31Document(OPENAPI_INFO) as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> }
    await sql.end({ timeout: 0 })
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/investigation/events',
        '/v1/investigation/lockouts/{identifier}',
        '/v1/investigation/lockouts/{identifier}/diagnostics',
        '/v1/investigation/incident-report',
        '/v1/investigation/volumes',
        '/v1/admin/lockouts/{identifier}/unlock',
        '/v1/admin/export',
        '/v1/admin/retention/purge',
        '/metrics',
      ]),
    )
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400) expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json'])
        }
      }
    }
    const events = doc.paths['/v1/investigation/events']!.get as unknown as { parameters: { name: string }[] }
    expect(events.parameters.map((p) => p.name)).toEqual(['user_id', 'identifier', 'ip', 'event_type', 'channel', 'outcome', 'from', 'to', 'order', 'limit', 'cursor'])
  })
})
