import { DEFAULT_ROLE_NAMES } from '../../src/db/migrate.ts'
import { TEST_CHECKPOINT_SIGNING_KEY } from '../../test/support/checkpoint-key.ts'

/**
 * The environment the benchmarks start production processes with (the service, the relay command):
 * AUTHTRAIL_ENV=production and the secrets production insists on, as throwaway values. With
 * BENCH_PROFILE_DIR set, each such process writes a V8 CPU profile there when it exits
 * (summarise with `tsx bench/summarise-cpu-profile.ts`).
 */
export function productionEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  // Production refuses the superuser the benchmarks set up with: their processes connect as the runtime role.
  const runtimeUrl = Object.assign(new URL(databaseUrl), { username: DEFAULT_ROLE_NAMES.runtime }).toString()
  return {
    AUTHTRAIL_ENV: 'production',
    DATABASE_URL: runtimeUrl,
    // A throwaway Ed25519 key, for benchmarks only.
    JWT_SIGNING_KEY: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'g1M1w1JQy1wHFDbOwTpPqyFl-AN4LqJnrzj3rFhGS6w', d: 'QTG0khk51iH_p4FbLHbVopYEwiY6vBYe1qDr82K7LJw', kid: 'bench-2026-12', alg: 'EdDSA' }),
    CHECKPOINT_SIGNING_KEY: TEST_CHECKPOINT_SIGNING_KEY,
    // NODE_OPTIONS refuses --cpu-prof: a preload takes the profile instead.
    ...(process.env.BENCH_PROFILE_DIR && {
      BENCH_PROFILE_DIR: process.env.BENCH_PROFILE_DIR,
      NODE_OPTIONS: `--import=${new URL('./cpu-profile-preload.mjs', import.meta.url).href}`,
    }),
    ...extra,
  }
}
