// Verifies hash chains from PostgreSQL: `verify-chain --tenant <id|slug> [--tenant ...]` or `--all`.
// Prints one line per tenant and the first broken sequence number of a broken one; exits 1 on any
// break, 2 for an unknown tenant, 78 for bad configuration. CHECKPOINT_HMAC_KEY, when set, must have
// signed every retention checkpoint.
import { checkpointKeyFromEnvironment } from './checkpoint-key.ts'
import { loadCommandEnv, runCommand, withSql } from './run-command.ts'
import { parseTenantSelection } from './tenant-selection.ts'
import { runVerifyChain } from './verify-chain-command.ts'

const USAGE = 'usage: verify-chain (--tenant <uuid|slug>)... | --all'

await runCommand(async () => {
  const { tenants, all } = parseTenantSelection(USAGE)
  const env = loadCommandEnv('to verify chains')
  const checkpointKey = checkpointKeyFromEnvironment(process.env)
  return withSql(env.DATABASE_URL, (sql) => runVerifyChain(sql, { tenants, all, checkpointKey }, (line) => console.log(line)))
})
