import type { Sql } from '../db/client.ts'
import { settleRequestWrites } from '../db/append-auth-events.ts'
import { RequestDeadlineError, trackWrite, unlessDeadlinePassesMidWrite } from '../db/request-deadline.ts'
import { isConnectionLost, isDatabaseUnavailable, theOneRow } from '../db/sqlstate.ts'

/**
 * How long past the request's bound a write whose outcome is unknown may wait to find out whether it was
 * recorded: its answer must not be a 503 for a write that was. After a reset the pool's connections are
 * being re-established and every request in flight asks at once, so the finding out is given a few
 * seconds; the database is reachable again by then, or the answer is 503 as the database being unavailable.
 */
const UNKNOWN_OUTCOME_LOOKUP_MS = 4_000

/**
 * Runs `write` (a use case's recording of its events) so that a 503 never stands for a recorded write.
 * Its outcome is unknown when its connection is lost (the COMMIT may have been received) or when the
 * request's bound passes while it is in flight (a commit slower than the bound's margin). Then, on another
 * connection, the request's writes are settled first (none can commit afterwards, and one the server was
 * still running has ended: see settleRequestWrites), and `ifRecorded` says what was recorded: the answer
 * to give, or null for nothing (the original error stands: 503, nothing written). While the database
 * cannot be asked, it is asked again until the lookup's time is spent; then the original error stands,
 * the database having been unreachable throughout, the one case left unknown.
 */
export function withKnownOutcome<T>(sql: Sql, write: () => Promise<T>, ifRecorded: () => Promise<T | null>): Promise<T> {
  const lookUp = (error: unknown) => trackWrite(afterUnknownOutcome(sql, error, ifRecorded), UNKNOWN_OUTCOME_LOOKUP_MS)
  return unlessDeadlinePassesMidWrite(write().catch(lookUp), () => lookUp(new RequestDeadlineError()))
}

async function afterUnknownOutcome<T>(sql: Sql, error: unknown, ifRecorded: () => Promise<T | null>): Promise<T> {
  if (!isConnectionLost(error) && !(error instanceof RequestDeadlineError)) throw error
  const giveUpAt = Date.now() + UNKNOWN_OUTCOME_LOOKUP_MS - 250
  for (let tries = 1; ; tries++) {
    let answer: T | null
    try {
      await settleRequestWrites(sql)
      answer = await ifRecorded()
    } catch (lookupError) {
      if (!isDatabaseUnavailable(lookupError) || Date.now() + 50 * tries >= giveUpAt) throw error
      await new Promise((resolve) => setTimeout(resolve, 50 * tries))
      continue
    }
    if (answer === null) throw error
    return answer
  }
}

/** Whether the tenant's trail holds the event `id` (asked so that the answer is always one row). */
export async function isEventRecorded(sql: Sql, tenantId: string, id: string): Promise<boolean> {
  const rows = await sql<{ recorded: boolean }[]>`SELECT EXISTS (SELECT 1 FROM auth_logs WHERE tenant_id = ${tenantId} AND id = ${id}) AS recorded`
  return theOneRow(rows, 'the lookup of a write whose outcome was unknown').recorded
}
