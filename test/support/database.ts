import { createSql, type Sql } from '../../src/db/client.ts'
import { migrate } from '../../src/db/migrate.ts'

/** The server tests run against: the machine's PostgreSQL unless TEST_DATABASE_URL says otherwise. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase {
  sql: Sql
  url: string
  name: string
  drop(): Promise<void>
}

/**
 * Creates a fresh, migrated database for one test file and drops it afterwards: files never share state
 * and can run in parallel.
 */
export async function createTestDatabase(label: string, options: { max?: number } = {}): Promise<TestDatabase> {
  const admin = createSql(ADMIN_URL, { max: 1 })
  const name = `authtrail_t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${Math.floor(Math.random() * 1e6)}`
  await admin.unsafe(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`)
  const sql = createSql(url, { max: options.max ?? 10 })
  await migrate(sql)
  return {
    sql,
    url,
    name,
    drop: async () => {
      await sql.end({ timeout: 5 })
      const a = createSql(ADMIN_URL, { max: 1 })
      await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await a.end()
    },
  }
}
