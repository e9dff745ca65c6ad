import { z } from 'zod'
import { parseProxyTrust } from '../core/client-address.ts'
import { mongoPlaintextProblem, postgresPlaintextProblem, postgresTlsParameterProblem } from './transport-security.ts'

/** The development-only signing key. Outside development the service refuses to start with it. */
export const DEVELOPMENT_JWT_SECRET = 'authtrail-development-secret-do-not-use-in-production!'

const PG_ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** A JSON value in a variable, parsed; the schema that follows names the variable when it is not valid. */
const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' })
        return z.NEVER
      }
    })
    .pipe(schema)

const base64url = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes in base64url')
const publicJwk = z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: base64url, kid: z.string().min(1).max(128), alg: z.literal('EdDSA').default('EdDSA'), use: z.literal('sig').default('sig') })
const privateJwk = publicJwk.omit({ use: true }).extend({ d: base64url })

/** The names of the database roles (see the roles migration); the defaults are the names it documents. */
const DATABASE_ROLE_FIELDS = {
  DATABASE_OWNER_ROLE: z.string().regex(PG_ROLE_NAME, 'must be a PostgreSQL role name').default('authtrail_owner'),
  DATABASE_RUNTIME_ROLE: z.string().regex(PG_ROLE_NAME, 'must be a PostgreSQL role name').default('authtrail_runtime'),
  DATABASE_RETENTION_ROLE: z.string().regex(PG_ROLE_NAME, 'must be a PostgreSQL role name').default('authtrail_retention'),
  DATABASE_AUDITOR_ROLE: z.string().regex(PG_ROLE_NAME, 'must be a PostgreSQL role name').default('authtrail_auditor'),
}

/** A postgres:// URL, with libpq's TLS parameters (sslmode, sslrootcert, sslcert, sslkey) checked. */
const POSTGRES_URL = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
  .superRefine((url, ctx) => {
    const problem = postgresTlsParameterProblem(url)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })

const boolFromString = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')

/** The PostgreSQL URLs that carry the audit trail; in production each must authenticate the server. */
const POSTGRES_URL_VARIABLES = ['DATABASE_URL', 'MIGRATION_DATABASE_URL', 'RETENTION_DATABASE_URL'] as const

/** In production, a connection to a non-local server without verified TLS is refused unless DATABASE_ALLOW_PLAINTEXT. */
function refusePlaintextPostgres(env: Partial<Record<(typeof POSTGRES_URL_VARIABLES)[number], string>> & { AUTHTRAIL_ENV: string; DATABASE_ALLOW_PLAINTEXT: boolean }, ctx: z.RefinementCtx): void {
  if (env.AUTHTRAIL_ENV !== 'production' || env.DATABASE_ALLOW_PLAINTEXT) return
  for (const variable of POSTGRES_URL_VARIABLES) {
    const url = env[variable]
    const problem = url === undefined ? null : postgresPlaintextProblem(url)
    if (problem !== null) ctx.addIssue({ code: 'custom', path: [variable], message: problem })
  }
}

/** Allows, in production, a server connection that is neither local nor verified TLS (sslmode below verify-full). */
const DATABASE_ALLOW_PLAINTEXT = boolFromString.default(false)

/** What `authtrail migrate` reads: it needs none of the service's secrets. */
export const migrationEnvSchema = z
  .object({
    AUTHTRAIL_ENV: z.enum(['development', 'test', 'production']).default('development'),
    MIGRATION_DATABASE_URL: POSTGRES_URL.optional(),
    DATABASE_URL: POSTGRES_URL.optional(),
    DATABASE_ALLOW_PLAINTEXT,
    ...DATABASE_ROLE_FIELDS,
  })
  .superRefine(refusePlaintextPostgres)

export const envSchema = z
  .object({
    AUTHTRAIL_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATABASE_URL: POSTGRES_URL.optional(),
    DATABASE_ALLOW_PLAINTEXT,
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(5000),
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(4000),
    DATABASE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(3000),
    DATABASE_IDLE_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
    /** Every request is answered within this bound: 503 + Retry-After when the database is too slow. */
    REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
    /** argon2id verifications running at once, and waiting: beyond both, a login is refused with 503 at once. */
    PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
    PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(100_000).default(64),
    /** GET /metrics answers only with `Authorization: Bearer <this>`. */
    METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
    /** GET /metrics is served on this port only (its own listener, on METRICS_HOST), not on PORT. */
    METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    METRICS_HOST: z.string().min(1).optional(),
    /** `authtrail migrate` connects with this (the owner role); DATABASE_URL is the runtime role's. */
    MIGRATION_DATABASE_URL: POSTGRES_URL.optional(),
    /** The retention role's connection: the purge command, and the API's purge when set. */
    RETENTION_DATABASE_URL: POSTGRES_URL.optional(),
    ...DATABASE_ROLE_FIELDS,
    DATA_DIR: z.string().min(1).default('.data'),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEVELOPMENT_JWT_SECRET),
    JWT_ISSUER: z.string().min(1).default('authtrail'),
    /** EdDSA (Ed25519, default) or HS256 (development only, with JWT_SECRET). */
    JWT_ALGORITHM: z.enum(['EdDSA', 'HS256']).default('EdDSA'),
    /** The Ed25519 private JWK access tokens are signed with (with its `kid`); required in production. */
    JWT_SIGNING_KEY: json(privateJwk).optional(),
    /** Public JWKs also accepted and published (the next key before it signs, the previous one after). */
    JWT_VERIFY_KEYS: json(z.array(publicJwk).max(10)).default([]),
    JWT_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
    /** Absolute lifetime of a session (refresh-token family); each refresh rotates the token, never extends this. */
    REFRESH_TTL_SECONDS: z.coerce.number().int().min(300).max(31_536_000).default(2_592_000),
    TRUST_PROXY: boolFromString.default(false),
    /** A hop count or comma-separated CIDRs of our own proxies; overrides TRUST_PROXY. */
    TRUSTED_PROXIES: z
      .string()
      .transform((text, ctx) => {
        try {
          return parseProxyTrust(text)
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a hop count or comma-separated addresses and CIDR ranges' })
          return z.NEVER
        }
      })
      .optional(),
    MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URL').optional(),
    MONGO_DB: z.string().min(1).default('authtrail'),
    /** PEM files for TLS to MongoDB: the CA, and the client certificate with its key (X.509 client authentication). */
    MONGO_TLS_CA: z.string().min(1).optional(),
    MONGO_TLS_CERT_KEY: z.string().min(1).optional(),
    /** Allows, in production, a MongoDB connection that is neither local nor TLS with its checks on. */
    MONGO_ALLOW_PLAINTEXT: boolFromString.default(false),
    SYSLOG_URL: z.string().regex(/^(relp|relp\+tls|udp|tcp|tls|file):\/\//, 'must be relp://, relp+tls://, udp://, tcp://, tls:// or file://').optional(),
    /** RFC 5424 HOSTNAME and CEF dvchost; the machine's host name (a container id under Docker) by default. */
    SYSLOG_HOSTNAME: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters without spaces').optional(),
    /** RFC 5424 APP-NAME. */
    SYSLOG_APP_NAME: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'must be 1-48 printable ASCII characters without spaces').default('authtrail'),
    SYSLOG_TLS_CA: z.string().optional(),
    SYSLOG_TLS_CERT: z.string().optional(),
    SYSLOG_TLS_KEY: z.string().optional(),
    RELAY_ENABLED: boolFromString.default(true),
    RELAY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),
    RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(2000),
    RELAY_BACKOFF_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1000),
    RELAY_BACKOFF_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(300_000),
    /** Ed25519 private key (PKCS#8 PEM, `\n` for line breaks) that signs chain checkpoints; or the file holding it. */
    CHECKPOINT_SIGNING_KEY: z.string().includes('PRIVATE KEY', { message: 'must be a PKCS#8 PEM private key' }).optional(),
    CHECKPOINT_SIGNING_KEY_FILE: z.string().min(1).optional(),
    /** JWKS file of earlier checkpoint keys, still published and accepted by verification after a rotation. */
    CHECKPOINT_RETIRED_KEYS_FILE: z.string().min(1).optional(),
    CHECKPOINT_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
    CHECKPOINT_EVERY_EVENTS: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
    /** How often the incident rollups are folded (0: never in this process; run another instance that folds). */
    ROLLUP_FOLD_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    /** How long after an hour ends before it is folded: longer than a request's deadline plus clock skew. */
    ROLLUP_FOLD_LAG_SECONDS: z.coerce.number().int().min(60).max(86_400).default(300),
    /** argon2id implementation: `native` (Node-API), `wasm` (WebAssembly), `auto` (native where it loads). */
    PASSWORD_HASHER: z.enum(['auto', 'native', 'wasm']).default('auto'),
  })
  .superRefine((env, ctx) => {
    if (env.JWT_ALGORITHM === 'HS256' && env.AUTHTRAIL_ENV !== 'development') {
      ctx.addIssue({ code: 'custom', path: ['JWT_ALGORITHM'], message: 'HS256 is a development option only (use EdDSA with JWT_SIGNING_KEY)' })
    }
    if (env.JWT_ALGORITHM === 'EdDSA' && env.AUTHTRAIL_ENV === 'production' && env.JWT_SIGNING_KEY === undefined) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SIGNING_KEY'], message: 'must be set in production (an Ed25519 private JWK with its kid; `npm run -s jwt-key` makes one)' })
    }
    if (env.RELAY_BACKOFF_MAX_MS < env.RELAY_BACKOFF_BASE_MS) {
      ctx.addIssue({ code: 'custom', path: ['RELAY_BACKOFF_MAX_MS'], message: 'must be at least RELAY_BACKOFF_BASE_MS' })
    }
    if (env.AUTHTRAIL_ENV === 'production' && env.CHECKPOINT_SIGNING_KEY === undefined && env.CHECKPOINT_SIGNING_KEY_FILE === undefined) {
      ctx.addIssue({ code: 'custom', path: ['CHECKPOINT_SIGNING_KEY'], message: 'must be set in production, or CHECKPOINT_SIGNING_KEY_FILE (chain checkpoints are signed with it)' })
    }
    if (env.CHECKPOINT_SIGNING_KEY !== undefined && env.CHECKPOINT_SIGNING_KEY_FILE !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['CHECKPOINT_SIGNING_KEY_FILE'], message: 'set either CHECKPOINT_SIGNING_KEY or CHECKPOINT_SIGNING_KEY_FILE, not both' })
    }
    if (env.AUTHTRAIL_ENV !== 'development' && env.DATABASE_URL === undefined) {
      ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'must be set outside development (the embedded database is for development only)' })
    }
    refusePlaintextPostgres(env, ctx)
    if (env.AUTHTRAIL_ENV === 'production' && !env.MONGO_ALLOW_PLAINTEXT && env.MONGO_URL !== undefined) {
      const problem = mongoPlaintextProblem(env.MONGO_URL, env.MONGO_TLS_CA !== undefined || env.MONGO_TLS_CERT_KEY !== undefined)
      if (problem !== null) ctx.addIssue({ code: 'custom', path: ['MONGO_URL'], message: problem })
    }
  })

export type Env = z.infer<typeof envSchema>

/** Raised when the environment is invalid; the message names every offending variable. */
export class ConfigError extends Error {}

/**
 * Parses and validates the environment. Start-up stops with a message naming each bad variable.
 *
 * @example
 * const env = loadEnv(process.env)
 */
export function loadEnv(source: Record<string, string | undefined>): Env {
  return parseEnv(envSchema, source)
}

function parseEnv<S extends z.ZodType>(schema: S, source: Record<string, string | undefined>): z.infer<S> {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''))
  const result = schema.safeParse(cleaned)
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`)
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`)
  }
  return result.data
}

/** The environment of `authtrail migrate`, validated like loadEnv's. */
export function loadMigrationEnv(source: Record<string, string | undefined>): z.infer<typeof migrationEnvSchema> {
  return parseEnv(migrationEnvSchema, source)
}
