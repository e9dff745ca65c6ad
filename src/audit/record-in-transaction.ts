import type { Sql, Tx } from '../db/client.ts'
import { DuplicateEventError } from './record-events.ts'

/** The answer when the events were recorded already, by an earlier try of the same request. */
export interface AlreadyRecorded {
  kind: 'already_recorded'
}

/** Carries a rollback's answer out of sql.begin, which rolls back only when its callback throws. */
class RolledBack<R> {
  constructor(readonly answer: R) {}
}

/**
 * Runs `body` in one transaction and answers with a result, whatever happens: `body`'s value once
 * committed; the answer `body` passed to `rollBack` when it decided to keep nothing it wrote; and
 * `{ kind: 'already_recorded' }` when recordEvents found an event already recorded (a retried request),
 * in which case everything, chain head included, is rolled back too. Anything else unexpected throws.
 *
 * @example
 * const result = await recordInTransaction<Answer, Retry>(sql, async (tx, rollBack) => {
 *   if (mustRetry) return rollBack({ kind: 'retry' })
 *   await recordEvents(tx, tenant, drafts, { now })
 *   return { kind: 'done' }
 * })
 */
export async function recordInTransaction<T, R = never>(
  sql: Sql,
  body: (tx: Tx, rollBack: (answer: R) => never) => Promise<T>,
): Promise<T | R | AlreadyRecorded> {
  try {
    return (await sql.begin((tx) =>
      body(tx, (answer) => {
        throw new RolledBack(answer)
      }),
    )) as T
  } catch (error) {
    if (error instanceof RolledBack) return error.answer as R
    if (error instanceof DuplicateEventError) return { kind: 'already_recorded' }
    throw error
  }
}
