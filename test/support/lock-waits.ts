import type { TestDatabase } from './database.ts'

/**
 * Locks the test database's sessions are waiting for: of one kind (`locktype` of pg_locks) and advisory
 * lock class when given, of any kind otherwise. A waiting session waits for one lock at a time, so this is
 * also the number of sessions waiting.
 */
export async function lockWaits(db: TestDatabase, locktype?: string, classid?: number): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE a.datname = ${db.name} AND NOT l.granted
      AND (${locktype ?? null}::text IS NULL OR l.locktype = ${locktype ?? null}::text)
      AND (${classid ?? null}::bigint IS NULL OR l.classid::bigint = ${classid ?? null}::bigint)`
  return row!.n
}
