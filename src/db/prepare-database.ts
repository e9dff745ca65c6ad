import { ConfigError, type Env } from '../config/env.ts'
import type { Sql } from './client.ts'
import { describeDatabaseRole, refusalToRunAs } from './database-role.ts'
import { migrate, roleNamesOf } from './migrate.ts'

/**
 * Outside production the service migrates at start-up (one role is fine for development). In production
 * migrating is a step of its own (`authtrail migrate`, as the owner role), and the service refuses to run
 * as a superuser or as the owner of the audit tables, either of which could rewrite the trail: a
 * ConfigError, so the process exits 78 with the reason.
 */
export async function prepareDatabase(sql: Sql, env: Env): Promise<void> {
  if (env.AUTHTRAIL_ENV !== 'production') {
    await migrate(sql, { roles: roleNamesOf(env) })
    return
  }
  const refusal = refusalToRunAs(await describeDatabaseRole(sql))
  if (refusal !== null) {
    await sql.end({ timeout: 5 })
    throw new ConfigError(`refusing to start in production:\n  ${refusal}`)
  }
}

