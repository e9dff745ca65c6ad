import type { Env } from '../config/env.ts'
import { createTokenService, generateSigningKey, type TokenService } from './tokens.ts'

/**
 * The token service the configuration asks for: EdDSA with JWT_SIGNING_KEY (and JWT_VERIFY_KEYS during a
 * rotation); without a signing key (development and test only, enforced by the config schema) an
 * ephemeral key made at start-up, so tokens end with the process; HS256 with JWT_SECRET only in development.
 *
 * @example
 * const tokens = await tokenServiceFromEnv(loadEnv(process.env))
 */
export async function tokenServiceFromEnv(env: Env): Promise<TokenService> {
  if (env.JWT_ALGORITHM === 'HS256') return createTokenService(env.JWT_SECRET, env.JWT_ISSUER)
  const signing = env.JWT_SIGNING_KEY ?? (await generateSigningKey(`ephemeral-${crypto.randomUUID()}`))
  return createTokenService({ signing, verifying: env.JWT_VERIFY_KEYS }, env.JWT_ISSUER)
}
