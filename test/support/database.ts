import { afterAll, beforeAll } from 'vitest'
import { createSql, type Sql } from '../../src/db/client.ts'
import { migrate } from '../../src/db/migrate.ts'
import { lateBound } from './late-bound.ts'

/** The server tests run against: the machine's PostgreSQL unless TEST_DATABASE_URL says otherwise. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase {
  sql: Sql
  url: string
  name: string
  drop(): Promise<void>
}

/**
 * Creates a database named `name` on the server of `adminUrl` (replacing a leftover one of that name),
 * migrates it, and returns a client of `max` connections with a `drop` that ends it and drops the
 * database. Tests and benchmarks both start from here.
 */
export async function createMigratedDatabase(adminUrl: string, name: string, options: { max: number; template?: string }): Promise<TestDatabase> {
  const onAdmin = async (statement: string) => {
    const admin = createSql(adminUrl, { max: 1 })
    try {
      await admin.unsafe(statement)
    } finally {
      await admin.end()
    }
  }
  await onAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  // A copy of a database migrated once holds what migrating would have created (schema, functions, grants).
  await onAdmin(options.template ? `CREATE DATABASE "${name}" TEMPLATE "${options.template}"` : `CREATE DATABASE "${name}"`)
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`)
  const sql = createSql(url, { max: options.max })
  if (!options.template) await migrate(sql)
  return {
    sql,
    url,
    name,
    drop: async () => {
      await sql.end({ timeout: 5 })
      await onAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    },
  }
}

/**
 * A migrated database test databases are copied from instead of being migrated one by one, when the run
 * provides one (see template-database.ts; the mutation run, which creates a database per test file per
 * mutant, does).
 */
export const TEMPLATE_DATABASE_ENV = 'AUTHTRAIL_TEST_TEMPLATE_DATABASE'

/**
 * Creates a fresh, migrated database for one test file and drops it afterwards: files never share state
 * and can run in parallel.
 */
export function createTestDatabase(label: string, options: { max?: number } = {}): Promise<TestDatabase> {
  const name = `authtrail_t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${Math.floor(Math.random() * 1e6)}`
  const template = process.env[TEMPLATE_DATABASE_ENV]
  return createMigratedDatabase(ADMIN_URL, name, { max: options.max ?? 10, ...(template && { template }) })
}

/**
 * The test file's own database: created before its tests (ahead of the file's own beforeAll hooks,
 * which may use it) and dropped after them. The handle reads through to the database once it exists.
 *
 * @example
 * const db = useTestDatabase('login')
 * it('…', async () => { await db.sql`SELECT 1` })
 */
export function useTestDatabase(label: string, options: { max?: number } = {}): TestDatabase {
  let db: TestDatabase | undefined
  beforeAll(async () => {
    db = await createTestDatabase(label, options)
  })
  afterAll(async () => {
    await db?.drop()
  })
  return lateBound(`the ${label} test database`, () => db)
}
