import type { AppDeps } from '../../src/app.ts'
import type { InvestigationOptions } from '../../src/routes/investigation/investigation.handlers.ts'
import type { Sql } from '../../src/db/client.ts'
import { createTestApp, type TestApp } from './test-app.ts'

/** The real app with the investigation, administration and metrics routes registered as in production. */
export function createInvestigationTestApp(sql: Sql, options: InvestigationOptions = {}, overrides: Partial<AppDeps> = {}): Promise<TestApp> {
  return createTestApp(sql, { checkpointKey: options.checkpointKey ?? null, metrics: options.metrics, cefDevice: options.cefDevice, ...overrides })
}

/** GETs a path in-process with a bearer token. */
export async function getWith(app: TestApp['app'], path: string, authorization?: string): Promise<Response> {
  return app.request(path, { headers: authorization ? { authorization } : {} })
}

/** POSTs without a body in-process with a bearer token. */
export async function postWith(app: TestApp['app'], path: string, authorization?: string, headers: Record<string, string> = {}): Promise<Response> {
  return app.request(path, { method: 'POST', headers: { ...(authorization ? { authorization } : {}), ...headers } })
}

/** A problem body without the fields that differ between any two requests (request id, path). */
export function comparableProblem(body: Record<string, unknown>): Record<string, unknown> {
  const { request_id: _r, instance: _i, ...rest } = body
  return rest
}
