import type { AppDeps } from '../../src/app.ts'
import { appendAuthEvents } from '../../src/audit/append-events.ts'
import { draftEvent } from '../../src/audit/event-draft.ts'
import type { JsonObject } from '../../src/core/auth-event.ts'
import type { Channel, EventType, Outcome } from '../../src/core/event-types.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { shardFor } from '../../src/core/identifier.ts'
import type { Tenant } from '../../src/db/tenants.ts'
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

export interface TestEventInput {
  eventType?: EventType
  outcome?: Outcome
  channel?: Channel
  identifier?: string | null
  userId?: string | null
  organisationId?: string | null
  ip?: string | null
  userAgent?: string | null
  reason?: string | null
  at: Date
  metadata?: JsonObject
}

/**
 * Writes events through the real write path (draftEvent + appendAuthEvents, one transaction each, in
 * the identifier's shard), without the cost of a password check per event.
 */
export async function appendTestEvents(sql: Sql, tenant: Tenant, inputs: TestEventInput[]): Promise<string[]> {
  const ids: string[] = []
  for (const input of inputs) {
    const event = draftEvent({
      id: uuidv7(input.at.getTime()),
      tenantId: tenant.id,
      retentionDays: tenant.retentionDays,
      now: input.at,
      eventType: input.eventType ?? 'login_failed',
      outcome: input.outcome ?? ((input.eventType ?? 'login_failed') === 'login_success' ? 'success' : 'failure'),
      origin: { ip: input.ip ?? null, userAgent: input.userAgent ?? 'vitest', deviceId: null, channel: input.channel ?? 'web' },
      organisationId: input.organisationId ?? null,
      userId: input.userId ?? null,
      identifier: input.identifier ?? null,
      reason: input.reason ?? null,
      metadata: input.metadata ?? {},
    })
    await sql.begin((tx) => appendAuthEvents(tx, { tenantId: tenant.id, shard: shardFor(input.identifier ?? '', tenant.chainShards) }, [event], null))
    ids.push(event.id)
  }
  return ids
}
