import type { Sql } from '../../src/db/client.ts'
import { createMigratedDatabase, type TestDatabase } from '../../test/support/database.ts'

/** The server the benchmarks run against: the machine's PostgreSQL unless BENCH_DATABASE_URL says otherwise. */
export const BENCH_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A benchmark's database. `sql` is a small client for set-up and inspection; benchmarks open their own pools sized to their clients. */
export type BenchDatabase = TestDatabase

const live = new Set<BenchDatabase>()

/**
 * Creates a fresh, migrated database for one benchmark (the same set-up as the tests'). Every benchmark
 * starts from an empty schema and drops its database afterwards, also when it fails (see
 * `dropAllBenchDatabases`).
 */
export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `authtrail_bench_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}`
  const created = await createMigratedDatabase(BENCH_ADMIN_URL, name, { max: 2 })
  const db: BenchDatabase = {
    ...created,
    drop: async () => {
      live.delete(db)
      await created.drop()
    },
  }
  live.add(db)
  return db
}

/** Drops whatever a failed or interrupted benchmark left behind. */
export async function dropAllBenchDatabases(): Promise<void> {
  for (const db of [...live]) await db.drop().catch(() => {})
}

/** Writes dirty buffers out now, so that no benchmark pays for the previous one's checkpoint. */
export async function checkpoint(sql: Sql): Promise<void> {
  await sql`CHECKPOINT`
}
