import { ADMIN_URL, createMigratedDatabase, TEMPLATE_DATABASE_ENV } from './database.ts'

/**
 * Global setup of the trust-critical mutation run (vitest.trust.config.ts): migrates one database, which
 * every test file of the run then copies (CREATE DATABASE … TEMPLATE) instead of migrating its own. Each
 * mutant re-runs the database tests that reach it, each file in a database of its own; copying takes a
 * fraction of the time that applying every migration does. The template is dropped at the end.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const name = `authtrail_template_${process.pid}_${Math.floor(Math.random() * 1e6)}`
  const template = await createMigratedDatabase(ADMIN_URL, name, { max: 1 })
  // A database is copied only while nobody is connected to it.
  await template.sql.end({ timeout: 5 })
  process.env[TEMPLATE_DATABASE_ENV] = name
  return async () => {
    delete process.env[TEMPLATE_DATABASE_ENV]
    await template.drop()
  }
}
