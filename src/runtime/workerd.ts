import simd from 'argon2id/dist/simd.wasm'
import noSimd from 'argon2id/dist/no-simd.wasm'
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { Context, ExecutionContext } from 'hono'
import { createApp } from '../app.ts'
import { loadCheckpointKeys } from '../audit/checkpoint-keys.ts'
import { tokenServiceFromEnv } from '../auth/token-keys.ts'
import { createWasmArgon2Hasher } from '../auth/wasm-argon2-hasher.ts'
import { ConfigError, loadEnv, type Env } from '../config/env.ts'
import { createSql } from '../db/client.ts'
import { PROBLEM_CONTENT_TYPE, toProblem } from '../errors/problem.ts'
import type { AppEnv } from '../http/app-env.ts'
import { createLogger } from '../http/logger.ts'
import { SERVICE_VERSION } from '../version.ts'
import { createRequestScopedSql } from './request-scoped-sql.ts'

// Cloudflare Workers (workerd) entrypoint: the login API at the edge. Bundled by `npm run build:worker`
// (src/runtime/build-worker.ts) and deployed with wrangler.json. What it leaves out, and why:
// - the outbox relay and its sinks (syslog over TCP/TLS/UDP/RELP, MongoDB) and migrations: they run beside
//   the database (`npm run relay`), where long-lived connections and LISTEN/NOTIFY belong;
// - GET /metrics (prom-client reads process counters a Worker does not have): Cloudflare's own analytics
//   measure the worker, and the relay process serves the outbox figures;
// - native argon2id: workerd loads no Node-API module, so argon2id runs in WebAssembly.

/** Worker bindings: vars and secrets are strings; other bindings (none needed) are objects and ignored. */
type Bindings = Record<string, unknown>

interface Isolate {
  env: Env & { DATABASE_URL: string }
  app: OpenAPIHono<AppEnv>
  scoped: ReturnType<typeof createRequestScopedSql>
}

const log = createLogger()

/**
 * The address Cloudflare's edge saw the client connect from. Cloudflare sets CF-Connecting-IP on every
 * request it forwards and overwrites any value a client sends, so it is the peer address here.
 */
function cloudflarePeerAddress(c: Context): string | null {
  return c.req.header('cf-connecting-ip') ?? null
}

/**
 * The connection string of a Hyperdrive binding named HYPERDRIVE, if the worker has one: Cloudflare's
 * connection pool beside the database, which spares each request a TCP and authentication handshake with
 * PostgreSQL itself.
 */
function hyperdriveConnectionString(bindings: Bindings): string | undefined {
  const binding = bindings.HYPERDRIVE as { connectionString?: unknown } | undefined
  return typeof binding === 'object' && binding !== null && typeof binding.connectionString === 'string' ? binding.connectionString : undefined
}

/**
 * Validates the bindings with the same schema as every other runtime, plus what a worker requires. The
 * database is DATABASE_URL (a secret) or a Hyperdrive binding, whose connection string is then validated
 * as DATABASE_URL.
 */
function loadWorkerEnv(bindings: Bindings): Env & { DATABASE_URL: string } {
  const strings = Object.fromEntries(Object.entries(bindings).filter((entry): entry is [string, string] => typeof entry[1] === 'string'))
  const hyperdrive = hyperdriveConnectionString(bindings)
  if (hyperdrive !== undefined && strings.DATABASE_URL !== undefined) {
    throw new ConfigError('invalid configuration:\n  DATABASE_URL: set either DATABASE_URL or the HYPERDRIVE binding, not both')
  }
  // Hyperdrive's connection string names Cloudflare's Hyperdrive endpoint, which the Workers runtime reaches
  // itself; Hyperdrive reaches the origin database only over TLS (it refuses one without). So it is not
  // refused as plaintext in production; a DATABASE_URL secret is checked like everywhere else.
  const env = loadEnv(hyperdrive === undefined ? strings : { ...strings, DATABASE_URL: hyperdrive, DATABASE_ALLOW_PLAINTEXT: 'true' })
  const problems: string[] = []
  if (env.DATABASE_URL === undefined) problems.push('  DATABASE_URL: required on Workers, or a Hyperdrive binding named HYPERDRIVE (the embedded database needs a file system)')
  if (env.JWT_ALGORITHM === 'EdDSA' && env.JWT_SIGNING_KEY === undefined) problems.push('  JWT_SIGNING_KEY: required on Workers (each isolate would make a key of its own)')
  if (env.PASSWORD_HASHER === 'native') problems.push('  PASSWORD_HASHER: native argon2id cannot be loaded on Workers; use wasm or auto')
  for (const variable of ['CHECKPOINT_SIGNING_KEY_FILE', 'CHECKPOINT_RETIRED_KEYS_FILE'] as const) {
    if (env[variable] !== undefined) problems.push(`  ${variable}: Workers have no file system; set the key itself as CHECKPOINT_SIGNING_KEY`)
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`)
  return env as Env & { DATABASE_URL: string }
}

/** Everything that outlives a request: configuration, the WebAssembly hasher, the dummy hash, the app. */
async function prepareIsolate(bindings: Bindings): Promise<Isolate> {
  const env = loadWorkerEnv(bindings)
  const hasher = await createWasmArgon2Hasher({ simd, noSimd })
  log({ level: 'info', msg: 'password hasher', algorithm: 'argon2id', implementation: 'wasm', reason: 'workerd loads no Node-API module' })
  const scoped = createRequestScopedSql()
  const app = createApp({
    sql: scoped.sql,
    hasher,
    tokens: await tokenServiceFromEnv(env),
    clock: () => new Date(),
    // One argon2id hash per isolate, on its first request (a Worker may not compute before it is asked).
    dummyHash: await hasher.hash(crypto.randomUUID()),
    resolveAddress: cloudflarePeerAddress,
    config: { tokenTtlSeconds: env.JWT_TTL_SECONDS, refreshTtlSeconds: env.REFRESH_TTL_SECONDS, trustProxy: env.TRUSTED_PROXIES ?? env.TRUST_PROXY, secureCookies: env.AUTHTRAIL_ENV !== 'development' },
    log,
    sinks: [],
    // No file system on Workers: the signing key comes from CHECKPOINT_SIGNING_KEY (a secret), if at all.
    checkpointKeys: await loadCheckpointKeys({ signingKeyPem: env.CHECKPOINT_SIGNING_KEY ?? null, retiredKeysJwks: null }),
    cefDevice: { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: SERVICE_VERSION },
  })
  log({ level: 'info', msg: 'authtrail worker ready', runtime: 'workerd', authtrail_env: env.AUTHTRAIL_ENV, database: hyperdriveConnectionString(bindings) ? 'HYPERDRIVE' : 'DATABASE_URL' })
  return { env, app, scoped }
}

let isolate: Promise<Isolate> | null = null

/** Answers a request when the isolate cannot serve: the cause goes to the log, never to the client. */
function unavailable(error: unknown): Response {
  log({ level: 'error', msg: 'worker cannot serve', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
  const problem = toProblem('service_unavailable')
  return Response.json(problem, { status: problem.status, headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Cache-Control': 'no-store', 'Retry-After': '5' } })
}

export default {
  async fetch(request: Request, bindings: Bindings, ctx: ExecutionContext): Promise<Response> {
    isolate ??= prepareIsolate(bindings)
    let ready: Isolate
    try {
      ready = await isolate
    } catch (error) {
      // A bad configuration stays bad until redeployed; anything else is retried by the next request.
      if (!(error instanceof ConfigError)) isolate = null
      return unavailable(error)
    }
    // One connection per request, closed once the response is sent: a Worker's sockets die with its request.
    const client = createSql(ready.env.DATABASE_URL, { max: 1 })
    try {
      return await ready.scoped.run(client, async () => ready.app.fetch(request, bindings, ctx))
    } finally {
      ctx.waitUntil(client.end({ timeout: 5 }))
    }
  },
}
