import { checkpointKeyFromSecret } from '../audit/chain-checkpoints.ts'
import { ConfigError } from '../config/env.ts'

/**
 * CHECKPOINT_HMAC_KEY, the secret retention checkpoints are signed with (at least 32 characters), or
 * null when unset. The service reads it through the env schema; the commands read it here.
 */
export function checkpointKeyFromEnvironment(env: Record<string, string | undefined>): Uint8Array | null {
  const secret = env.CHECKPOINT_HMAC_KEY
  if (secret === undefined || secret === '') return null
  if (secret.length < 32) throw new ConfigError('invalid configuration:\n  CHECKPOINT_HMAC_KEY: must be at least 32 characters')
  return checkpointKeyFromSecret(secret)
}
