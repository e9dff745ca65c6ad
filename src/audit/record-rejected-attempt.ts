import { uuidv7 } from '../core/ids.ts'
import { shardFor } from '../core/identifier.ts'
import { UNATTRIBUTED_TENANT, type ChainOwner } from '../core/tenancy.ts'
import type { Sql } from '../db/client.ts'
import { recordEvents, type RequestOrigin } from './record-events.ts'

export interface RejectedAttempt {
  /** null when the request named no known tenant: the attempt goes to the unattributed chain. */
  tenant: ChainOwner | null
  eventType: 'login_failed' | 'registration_failed'
  origin: RequestOrigin
  identifier: string | null
  /** `overloaded`: refused unchecked because the password-hashing queue was full. */
  reason: 'invalid_request' | 'unknown_tenant' | 'overloaded'
  /** What was wrong: the problem code and the names of the invalid fields, never the body itself. */
  metadata: { problem_code: string; invalid_fields: string[]; attempted_tenant?: string }
}

/**
 * Audits an authentication attempt that was refused before any credential check (invalid input, unknown
 * tenant). It does not count towards a lockout: no password was tried.
 */
export async function recordRejectedAttempt(sql: Sql, attempt: RejectedAttempt, now: Date): Promise<string> {
  const { tenant, eventType, ...draft } = attempt
  const risk = { score: 50, signals: ['malformed_request'] }
  const id = uuidv7(now.getTime())
  // Unattributed attempts are any client's unreadable requests: one naming no account goes to the shard of
  // its own id, so that a flood of them spreads over every chain instead of queueing on one head's lock.
  const shard = tenant === null && draft.identifier === null ? shardFor(id, UNATTRIBUTED_TENANT.chainShards) : undefined
  const [event] = await sql.begin((tx) =>
    recordEvents(tx, tenant ?? UNATTRIBUTED_TENANT, [{ ...draft, id, eventType, outcome: 'failure', risk }], { now, ...(shard !== undefined && { shard }) }),
  )
  return event!.id
}
