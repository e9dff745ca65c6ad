// The retention job: `purge-retention --all` or `--tenant <id|slug>`, optionally `--before <ISO 8601>`
// (default now). Deletes each chain's expired prefix, checkpoints it (signed with the checkpoint signing
// key when one is configured) and records retention_purged in the tenant's chain. Exits 2 for an unknown
// tenant, 78 for bad configuration.
import { parseArgs } from 'node:util'
import { ConfigError } from '../config/env.ts'
import { checkpointKeysFromEnvironment } from './checkpoint-key.ts'
import { runPurgeRetention } from './purge-retention-command.ts'
import { loadCommandEnv, runCommand, withSql } from './run-command.ts'

const USAGE = 'usage: purge-retention ((--tenant <uuid|slug>)... | --all) [--before <ISO 8601 instant>]'

await runCommand(async () => {
  const { values } = parseArgs({ options: { tenant: { type: 'string', multiple: true }, all: { type: 'boolean' }, before: { type: 'string' } } })
  const tenants = values.tenant ?? []
  const before = values.before === undefined ? new Date() : new Date(values.before)
  if ((tenants.length === 0) === !values.all || Number.isNaN(before.getTime())) throw new ConfigError(USAGE)
  const env = loadCommandEnv('to purge')
  const { signer } = await checkpointKeysFromEnvironment(env)
  // The retention role's connection: the only role that may execute the purge.
  return withSql(env.RETENTION_DATABASE_URL ?? env.DATABASE_URL, (sql) => runPurgeRetention(sql, { tenants, all: values.all ?? false, before, signer }, (line) => console.log(line)), env.RETENTION_DATABASE_URL ? 'RETENTION_DATABASE_URL' : 'DATABASE_URL')
})
