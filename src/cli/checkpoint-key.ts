import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CheckpointKeyError, generateEd25519Pem, loadCheckpointKeys, type CheckpointKeys } from '../audit/checkpoint-keys.ts'
import { ConfigError, type Env } from '../config/env.ts'

type KeySettings = Pick<Env, 'AUTHTRAIL_ENV' | 'DATA_DIR' | 'CHECKPOINT_SIGNING_KEY' | 'CHECKPOINT_SIGNING_KEY_FILE' | 'CHECKPOINT_RETIRED_KEYS_FILE'>

async function readConfigured(variable: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`invalid configuration:\n  ${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

/**
 * The checkpoint keys the environment configures: the signing key from CHECKPOINT_SIGNING_KEY or
 * CHECKPOINT_SIGNING_KEY_FILE, earlier keys from CHECKPOINT_RETIRED_KEYS_FILE. In development without a
 * key, one is generated once (by the service: `createDevelopmentKey`; commands only read it) and kept in DATA_DIR, so that a newcomer sees signed checkpoints and they
 * still verify after a restart; elsewhere no key means no signatures (production refuses to start
 * without one, see env.ts). A bad key is a ConfigError naming the variable, never showing the key.
 */
export async function checkpointKeysFromEnvironment(env: KeySettings, options: { createDevelopmentKey?: boolean } = {}): Promise<CheckpointKeys> {
  let pem: string | null = env.CHECKPOINT_SIGNING_KEY ?? null
  let variable = 'CHECKPOINT_SIGNING_KEY'
  if (env.CHECKPOINT_SIGNING_KEY_FILE !== undefined) {
    pem = await readConfigured('CHECKPOINT_SIGNING_KEY_FILE', env.CHECKPOINT_SIGNING_KEY_FILE)
    variable = 'CHECKPOINT_SIGNING_KEY_FILE'
  } else if (pem === null && env.AUTHTRAIL_ENV === 'development') {
    const path = `${env.DATA_DIR}/checkpoint-signing-key.pem`
    pem = await readFile(path, 'utf8').catch(async () => {
      if (!options.createDevelopmentKey) return null
      const generated = await generateEd25519Pem()
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, generated, { mode: 0o600 })
      return generated
    })
    variable = `the development key in ${path}`
  }
  const retired = env.CHECKPOINT_RETIRED_KEYS_FILE === undefined ? null : await readConfigured('CHECKPOINT_RETIRED_KEYS_FILE', env.CHECKPOINT_RETIRED_KEYS_FILE)
  try {
    return await loadCheckpointKeys({ signingKeyPem: pem, retiredKeysJwks: retired })
  } catch (error) {
    if (!(error instanceof CheckpointKeyError)) throw error
    const culprit = retired !== null && !error.message.startsWith('not a PEM') && !error.message.startsWith('not an Ed25519 private') ? 'CHECKPOINT_RETIRED_KEYS_FILE' : variable
    throw new ConfigError(`invalid configuration:\n  ${culprit}: ${error.message}`)
  }
}
