// `authtrail migrate` (`npm run migrate`): applies the migrations and the database roles, as a step of its
// own before the service starts (in production the service does not migrate). Connects with
// MIGRATION_DATABASE_URL (the owner role; a superuser the first time, to create the roles), or DATABASE_URL
// outside production. Exits 78 for bad configuration.
import { ConfigError, loadMigrationEnv } from '../config/env.ts'
import { migrate, roleNamesOf } from '../db/migrate.ts'
import { runCommand, withSql } from './run-command.ts'

await runCommand(async () => {
  const env = loadMigrationEnv(process.env)
  const url = env.MIGRATION_DATABASE_URL ?? (env.AUTHTRAIL_ENV === 'production' ? undefined : env.DATABASE_URL)
  if (url === undefined) throw new ConfigError('invalid configuration:\n  MIGRATION_DATABASE_URL: required to migrate (the owner role\'s connection)')
  const roles = roleNamesOf(env)
  const result = await withSql(url, (sql) => migrate(sql, { roles }), env.MIGRATION_DATABASE_URL ? 'MIGRATION_DATABASE_URL' : 'DATABASE_URL')
  for (const name of result.applied) console.log(`applied ${name}`)
  console.log(`${result.applied.length} applied, ${result.skipped.length} already applied; roles ${Object.values(roles).join(', ')} granted`)
})
