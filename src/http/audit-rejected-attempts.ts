import type { MiddlewareHandler } from 'hono'
import { normalizeIdentifier } from '../core/identifier.ts'
import type { Channel } from '../core/event-types.ts'
import { recordRejectedAttempt, type RejectedAttempt } from '../audit/record-rejected-attempt.ts'
import type { Sql } from '../db/client.ts'
import { findTenantBySlug } from '../db/tenants.ts'
import { ApiError } from '../errors/codes.ts'
import type { AppEnv, ClientAddressResolver } from './app-env.ts'
import { requestOrigin } from './client-origin.ts'
import { problemResponse, toApiError } from './problem-response.ts'

export interface RejectionAuditDeps {
  sql: Sql
  clock: () => Date
  resolveAddress: ClientAddressResolver
  trustProxy: boolean
  log: (entry: Record<string, unknown>) => void
}

const TENANT_SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/

/** Reads the few fields worth auditing from a body that failed validation, trusting none of it. */
function lenientFields(raw: string): { tenant: string | null; identifier: string | null; deviceId: string | null } {
  let body: unknown = null
  try {
    body = JSON.parse(raw)
  } catch {
    // Unreadable: nothing to attribute.
  }
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
  const str = (v: unknown, max: number) => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : null)
  const identifier = str(record.identifier, 254)
  return {
    tenant: str(record.tenant, 64),
    identifier: identifier === null ? null : normalizeIdentifier(identifier).slice(0, 254) || null,
    deviceId: str(record.device_id, 128),
  }
}

/**
 * Audits authentication attempts that a 4xx refused before the use case ran (invalid fields, malformed
 * JSON, oversize bodies, unknown tenants). The body is never stored: only the tenant and identifier it
 * named, the problem code and the names of the invalid fields. If the audit itself cannot be written, the
 * answer becomes 503: an attempt is never refused unrecorded.
 */
export function auditRejectedAttempts(
  deps: RejectionAuditDeps,
  attempt: { eventType: 'login_failed' | 'registration_failed'; channel: Channel },
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('attemptAudited', false)
    await next()
    const status = c.res.status
    if (c.get('attemptAudited') || status < 400 || status >= 500) return

    let raw = ''
    if (status !== 413) {
      try {
        raw = (await c.req.text()).slice(0, 65_536)
      } catch {
        raw = ''
      }
    }
    const fields = lenientFields(raw)
    let problem: { code?: string; errors?: { field: string }[] } = {}
    try {
      problem = await c.res.clone().json()
    } catch {
      problem = {}
    }
    try {
      const tenant = fields.tenant && TENANT_SLUG.test(fields.tenant) ? await findTenantBySlug(deps.sql, fields.tenant) : null
      const metadata: RejectedAttempt['metadata'] = {
        problem_code: problem.code ?? `http_${status}`,
        invalid_fields: (problem.errors ?? []).map((e) => e.field).slice(0, 20),
      }
      if (!tenant && fields.tenant) metadata.attempted_tenant = fields.tenant
      await recordRejectedAttempt(
        deps.sql,
        {
          tenant,
          eventType: attempt.eventType,
          origin: requestOrigin(c, deps.resolveAddress, deps.trustProxy, attempt.channel, fields.deviceId),
          identifier: fields.identifier,
          reason: problem.code === 'unknown_tenant' ? 'unknown_tenant' : 'invalid_request',
          metadata,
        },
        deps.clock(),
      )
    } catch (error) {
      const { apiError, unexpected } = toApiError(error)
      deps.log({ level: 'error', msg: 'could not audit a rejected attempt', request_id: c.get('requestId'), error: String((error as Error)?.message ?? error) })
      c.res = problemResponse(c, unexpected ? ApiError.from('service_unavailable') : apiError)
    }
  }
}
