// Verifies hash chains from PostgreSQL: `verify-chain --tenant <id|slug> [--tenant ...]` or `--all`.
// Prints one line per tenant and the first broken sequence number of a broken one; exits 1 on any
// break, 2 for an unknown tenant, 78 for bad configuration. CHECKPOINT_HMAC_KEY, when set, must have
// signed every retention checkpoint.
import { parseArgs } from 'node:util'
import { ConfigError, loadEnv } from '../config/env.ts'
import { createSql } from '../db/client.ts'
import { checkpointKeyFromEnvironment } from './checkpoint-key.ts'
import { runVerifyChain } from './verify-chain-command.ts'

const USAGE = 'usage: verify-chain (--tenant <uuid|slug>)... | --all'

try {
  const { values } = parseArgs({ options: { tenant: { type: 'string', multiple: true }, all: { type: 'boolean' } } })
  const tenants = values.tenant ?? []
  if ((tenants.length === 0) === !values.all) throw new ConfigError(USAGE)
  const env = loadEnv(process.env)
  if (env.DATABASE_URL === undefined) throw new ConfigError('invalid configuration:\n  DATABASE_URL: required to verify chains')
  const checkpointKey = checkpointKeyFromEnvironment(process.env)
  const sql = createSql(env.DATABASE_URL, { max: 1 })
  try {
    process.exitCode = await runVerifyChain(sql, { tenants, all: values.all ?? false, checkpointKey }, (line) => console.log(line))
  } finally {
    await sql.end({ timeout: 5 })
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message)
    process.exit(78)
  }
  throw error
}
