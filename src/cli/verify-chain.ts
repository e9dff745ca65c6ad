// Verifies hash chains from PostgreSQL against their signed checkpoints:
// `verify-chain (--tenant <id|slug>)... | --all [--keys <jwks file>] [--docstore] [--siem-file <file>]`.
// --keys names the public keys to trust (a copy of GET /v1/audit/keys); without it, the configured
// signing key and retired keys. --docstore also compares with the document store's checkpoints
// (MONGO_URL), --siem-file with those in a file of CEF lines a SIEM received. Prints one line per tenant
// and the first broken sequence number of a broken one with the anchor that disagrees; exits 1 on any
// break, 2 for an unknown tenant, 78 for bad usage or configuration.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { CheckpointKeyError, createCheckpointVerifier, parsePublishedKeys } from '../audit/checkpoint-keys.ts'
import { checkpointsInCefLines } from '../core/checkpoint.ts'
import { ConfigError } from '../config/env.ts'
import { createConfiguredDocumentStore } from '../outbox/create-configured-sinks.ts'
import { checkpointKeysFromEnvironment } from './checkpoint-key.ts'
import { loadCommandEnv, runCommand, withSql } from './run-command.ts'
import { runVerifyChain } from './verify-chain-command.ts'

const USAGE = 'usage: verify-chain ((--tenant <uuid|slug>)... | --all) [--keys <jwks file>] [--docstore] [--siem-file <file of CEF lines>]'

async function readArgumentFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})\n${USAGE}`)
  }
}

await runCommand(async () => {
  let values
  try {
    ;({ values } = parseArgs({
      options: { tenant: { type: 'string', multiple: true }, all: { type: 'boolean' }, keys: { type: 'string' }, docstore: { type: 'boolean' }, 'siem-file': { type: 'string' } },
    }))
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n${USAGE}`)
  }
  const tenants = values.tenant ?? []
  if ((tenants.length === 0) === !values.all) throw new ConfigError(USAGE)
  const env = loadCommandEnv('to verify chains')
  let verifier
  if (values.keys !== undefined) {
    try {
      verifier = await createCheckpointVerifier(parsePublishedKeys(await readArgumentFile('--keys', values.keys)))
    } catch (error) {
      if (error instanceof CheckpointKeyError) throw new ConfigError(`--keys: ${error.message}`)
      throw error
    }
  } else {
    verifier = (await checkpointKeysFromEnvironment(env)).verifier
  }
  const siemCheckpoints = values['siem-file'] === undefined ? null : checkpointsInCefLines((await readArgumentFile('--siem-file', values['siem-file'])).split('\n'))
  if (values.docstore && env.MONGO_URL === undefined) throw new ConfigError('invalid configuration:\n  MONGO_URL: required by --docstore')
  const documentStore = values.docstore ? createConfiguredDocumentStore(env) : null
  try {
    return await withSql(env.DATABASE_URL, (sql) =>
      runVerifyChain(sql, { tenants, all: values.all ?? false, verifier, documentStore, siemCheckpoints }, (line) => console.log(line)),
    )
  } finally {
    await documentStore?.close()
  }
})
