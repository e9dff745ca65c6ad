import { createSql, type Sql } from '../../src/db/client.ts'
import { migrate } from '../../src/db/migrate.ts'

/** The server the benchmarks run against: the machine's PostgreSQL unless BENCH_DATABASE_URL says otherwise. */
export const BENCH_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface BenchDatabase {
  name: string
  url: string
  /** A small client for set-up and inspection; benchmarks open their own pools sized to their clients. */
  sql: Sql
  drop(): Promise<void>
}

const live = new Set<BenchDatabase>()

/**
 * Creates a fresh, migrated database for one benchmark. Every benchmark starts from an empty schema
 * and drops its database afterwards, also when it fails (see `dropAllBenchDatabases`).
 */
export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `authtrail_bench_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}`
  const admin = createSql(BENCH_ADMIN_URL, { max: 1 })
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await admin.unsafe(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end()
  }
  const url = BENCH_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`)
  const sql = createSql(url, { max: 2 })
  await migrate(sql)
  const db: BenchDatabase = {
    name,
    url,
    sql,
    drop: async () => {
      live.delete(db)
      await sql.end({ timeout: 5 })
      const a = createSql(BENCH_ADMIN_URL, { max: 1 })
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } finally {
        await a.end()
      }
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
