import type { JsonObject } from '../core/auth-event.ts'
import { uuidv7 } from '../core/ids.ts'
import { shardFor } from '../core/identifier.ts'
import type { Sql } from '../db/client.ts'
import { UNATTRIBUTED_TENANT_ID } from '../core/tenancy.ts'
import type { Tenant } from '../db/tenants.ts'
import { appendAuthEvents } from './append-events.ts'
import { draftEvent, type RequestOrigin } from './event-draft.ts'

const UNATTRIBUTED_RETENTION_DAYS = 90

export interface RejectedAttempt {
  /** null when the request named no known tenant: the attempt goes to the unattributed chain. */
  tenant: Tenant | null
  eventType: 'login_failed' | 'registration_failed'
  origin: RequestOrigin
  identifier: string | null
  reason: 'invalid_request' | 'unknown_tenant'
  /** What was wrong (problem code, field names): never the body itself. */
  metadata: JsonObject
}

/**
 * Audits an authentication attempt that was refused before any credential check (invalid input, unknown
 * tenant). It does not count towards a lockout: no password was tried.
 */
export async function recordRejectedAttempt(sql: Sql, attempt: RejectedAttempt, now: Date): Promise<string> {
  const tenantId = attempt.tenant?.id ?? UNATTRIBUTED_TENANT_ID
  const shards = attempt.tenant?.chainShards ?? 1
  const event = draftEvent({
    id: uuidv7(now.getTime()),
    tenantId,
    retentionDays: attempt.tenant?.retentionDays ?? UNATTRIBUTED_RETENTION_DAYS,
    now,
    eventType: attempt.eventType,
    outcome: 'failure',
    origin: attempt.origin,
    identifier: attempt.identifier,
    reason: attempt.reason,
    risk: { score: 50, signals: ['malformed_request'] },
    metadata: attempt.metadata,
  })
  await sql.begin((tx) => appendAuthEvents(tx, { tenantId, shard: shardFor(attempt.identifier ?? '', shards) }, [event], null))
  return event.id
}
