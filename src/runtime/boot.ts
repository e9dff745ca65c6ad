import { resolve } from 'node:path'
import { OpenAPIHono } from '@hono/zod-openapi'
import { createApp, type AppDeps } from '../app.ts'
import { checkpointDueChains } from '../audit/checkpoint-chain-heads.ts'
import { foldIncidentRollups } from '../investigation/fold-incident-rollups.ts'
import { periodicRounds, type PeriodicRounds } from './periodic-rounds.ts'
import { createBoundedHasher } from '../auth/bounded-hasher.ts'
import { selectPasswordHasher, type PasswordHasherKind, type PasswordHasherLoaders } from '../auth/select-password-hasher.ts'
import { tokenServiceFromEnv } from '../auth/token-keys.ts'
import { checkpointKeysFromEnvironment } from '../cli/checkpoint-key.ts'
import type { Env } from '../config/env.ts'
import { createSql, type Sql } from '../db/client.ts'
import { startEmbeddedPostgres } from '../db/embedded-postgres.ts'
import { connectDatabase } from '../db/tls-options.ts'
import { prepareDatabase } from '../db/prepare-database.ts'
import { createTenantCache } from '../db/tenant-cache.ts'
import { DEMO, seedDemo } from '../db/seed-demo.ts'
import type { AppEnv, ClientAddressResolver } from '../http/app-env.ts'
import { createLogger } from '../http/logger.ts'
import { relayMetricsContributor } from '../metrics/relay-metrics.ts'
import { createServiceMetrics, type ServiceMetrics } from '../metrics/service-metrics.ts'
import { createMetricsRoutes, type MetricsAccess } from '../routes/metrics/metrics.handlers.ts'
import { createConfiguredDocumentStore, createConfiguredSinks } from '../outbox/create-configured-sinks.ts'
import { createOutboxRelay, type OutboxRelay } from '../outbox/create-outbox-relay.ts'
import { SERVICE_VERSION } from '../version.ts'
import { serverPasswordHasherLoaders } from './password-hashers.ts'
import { readApiReferenceRenderer } from './api-reference-renderer.ts'

export interface Services {
  app: OpenAPIHono<AppEnv>
  sql: Sql
  /** Where the embedded PostgreSQL keeps its data; null when DATABASE_URL is used. */
  embeddedDataDir: string | null
  /** The in-process relay, or null when RELAY_ENABLED=false or no sink is configured. */
  relay: OutboxRelay | null
  /** The periodic checkpointer, or null when no signing key is configured. */
  checkpointer: PeriodicRounds | null
  /** Where CEF lines go in development without SYSLOG_URL, so a newcomer sees them appear. */
  cefFile: string | null
  log: (entry: Record<string, unknown>) => void
  /** The argon2id implementation chosen at start-up (PASSWORD_HASHER). */
  passwordHasher: PasswordHasherKind
  /** GET /metrics alone, for a listener of its own on METRICS_PORT; null when METRICS_PORT is not set. */
  metricsApp: OpenAPIHono<AppEnv> | null
  /** Ends the open event streams, so that the server can stop: call it before stopping the server. */
  endStreams(): void
  close(): Promise<void>
}

export interface BootOptions {
  /** How this runtime builds each password hasher; Deno without --allow-ffi, for one, has no native one. */
  hasherLoaders?: PasswordHasherLoaders
}

/**
 * Wires the service from validated configuration; shared by the Node, Bun and Deno entrypoints. Without
 * DATABASE_URL (development only, enforced by the config schema) it runs on an embedded PostgreSQL and
 * writes CEF lines to a local file. The outbox relay runs in the same process unless RELAY_ENABLED=false
 * (then run `npm run relay` separately, as many instances as wanted).
 */
export async function bootServices(env: Env, resolveAddress: ClientAddressResolver, extraDeps: Partial<AppDeps> = {}, options: BootOptions = {}): Promise<Services> {
  const log = createLogger()
  const { hasher: unbounded, kind, reason } = await selectPasswordHasher(env.PASSWORD_HASHER, options.hasherLoaders ?? serverPasswordHasherLoaders)
  log({ level: 'info', msg: 'password hasher', algorithm: 'argon2id', implementation: kind, reason })
  const hasher = createBoundedHasher(unbounded, { concurrency: env.PASSWORD_HASH_CONCURRENCY, queue: env.PASSWORD_HASH_QUEUE })
  const embeddedDataDir = env.DATABASE_URL === undefined ? `${env.DATA_DIR}/pglite` : null
  const embedded = embeddedDataDir ? await startEmbeddedPostgres(embeddedDataDir) : null
  const timeouts = {
    connectMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    statementMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    lockMs: env.DATABASE_LOCK_TIMEOUT_MS,
    idleInTransactionMs: env.DATABASE_IDLE_TIMEOUT_MS,
  }
  const sql = embedded ? createSql(embedded.url, { max: 1, timeouts }) : connectDatabase('DATABASE_URL', env.DATABASE_URL!, { max: env.DATABASE_POOL_SIZE, timeouts })
  await prepareDatabase(sql, env)
  const retentionSql = env.RETENTION_DATABASE_URL ? connectDatabase('RETENTION_DATABASE_URL', env.RETENTION_DATABASE_URL, { max: 1 }) : undefined
  // The demo tenant and its published passwords go only into the embedded database, never into a server's.
  if (env.AUTHTRAIL_ENV === 'development' && embedded) await seedDemo(sql, hasher)
  const dummyHash = await hasher.hash(crypto.randomUUID())

  const cefFile = env.SYSLOG_URL === undefined && env.AUTHTRAIL_ENV === 'development' ? resolve(env.DATA_DIR, 'cef.log') : null
  const documentStore = createConfiguredDocumentStore(env)
  const sinks = createConfiguredSinks(cefFile ? { ...env, SYSLOG_URL: `file://${cefFile}` } : env, { deviceVersion: SERVICE_VERSION, documentStore })
  const relay =
    env.RELAY_ENABLED && sinks.length > 0
      ? createOutboxRelay({
          sql,
          sinks,
          batchSize: env.RELAY_BATCH_SIZE,
          maxAttempts: env.RELAY_MAX_ATTEMPTS,
          backoff: { baseMs: env.RELAY_BACKOFF_BASE_MS, maxMs: env.RELAY_BACKOFF_MAX_MS },
          // PGlite serves one connection: LISTEN would hold it, so the embedded database is polled.
          listen: embedded === null,
          log,
        })
      : null
  const checkpointKeys = await checkpointKeysFromEnvironment(env, { createDevelopmentKey: true })
  const checkpointer = checkpointKeys.signer
    ? (() => {
        const deps = {
          sql,
          signer: checkpointKeys.signer,
          clock: () => new Date(),
          policy: { intervalMs: env.CHECKPOINT_INTERVAL_SECONDS * 1000, everyEvents: env.CHECKPOINT_EVERY_EVENTS },
        }
        // Several instances share the work through the per-chain advisory lock.
        return periodicRounds({
          tickMs: Math.min(5_000, env.CHECKPOINT_INTERVAL_SECONDS * 1000),
          round: () => checkpointDueChains(deps),
          done: (made) => (made.length > 0 ? { msg: 'chain checkpoints signed', count: made.length, key_id: deps.signer.keyId } : null),
          failed: 'checkpoint round failed',
          log,
        })
      })()
    : null
  // PGlite serves one connection: the embedded development database folds nothing (reports read the trail).
  const rollupFolder =
    env.ROLLUP_FOLD_INTERVAL_SECONDS > 0 && embedded === null
      ? periodicRounds({
          tickMs: env.ROLLUP_FOLD_INTERVAL_SECONDS * 1000,
          round: () => foldIncidentRollups(sql, { lagSeconds: env.ROLLUP_FOLD_LAG_SECONDS }),
          done: (folded) => (folded.hours > 0 ? { msg: 'incident rollups folded', hours: folded.hours, tenants: folded.tenants } : null),
          failed: 'incident rollup fold failed',
          log,
        })
      : null
  const closing = new AbortController()
  const metrics = createServiceMetrics({ sql, contributors: [relayMetricsContributor(sql, relay ? () => relay.stats() : undefined)] })

  const { onMain: metricsAccess, ownListener } = metricsExposure(env)
  if (metricsAccess.kind === 'none' && !ownListener) log({ level: 'warn', msg: 'GET /metrics is not served: outside development it needs METRICS_TOKEN or METRICS_PORT' })
  const app = createApp({
    sql,
    hasher,
    tokens: await tokenServiceFromEnv(env),
    clock: () => new Date(),
    dummyHash,
    resolveAddress,
    config: { tokenTtlSeconds: env.JWT_TTL_SECONDS, refreshTtlSeconds: env.REFRESH_TTL_SECONDS, trustProxy: env.TRUSTED_PROXIES ?? env.TRUST_PROXY, requestTimeoutMs: env.REQUEST_TIMEOUT_MS, secureCookies: env.AUTHTRAIL_ENV !== 'development', metricsAccess },
    log,
    sinks,
    metrics,
    checkpointKeys,
    documentStore,
    cefDevice: { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: SERVICE_VERSION },
    closing: closing.signal,
    retentionSql,
    tenants: createTenantCache(sql),
    docs: { loadRendererScript: readApiReferenceRenderer },
    ...extraDeps,
  })
  await relay?.start()
  checkpointer?.start()
  rollupFolder?.start()
  return {
    app,
    sql,
    embeddedDataDir,
    relay,
    checkpointer,
    cefFile,
    log,
    passwordHasher: kind,
    metricsApp: ownListener ? createMetricsApp(metrics, env.METRICS_TOKEN) : null,
    endStreams: () => closing.abort(),
    close: async () => {
      closing.abort()
      await checkpointer?.stop()
      await rollupFolder?.stop()
      await relay?.stop()
      await Promise.allSettled(sinks.map((s) => s.close()))
      await sql.end({ timeout: 5 })
      await retentionSql?.end({ timeout: 5 })
      await embedded?.stop()
    },
  }
}

/**
 * Where GET /metrics is served, and to whom: with METRICS_PORT on its own listener only (behind
 * METRICS_TOKEN too when set); with METRICS_TOKEN alone on the service's port behind the token; with
 * neither, publicly in development and not at all elsewhere (its values describe every tenant).
 */
export function metricsExposure(env: Pick<Env, 'AUTHTRAIL_ENV' | 'METRICS_TOKEN' | 'METRICS_PORT'>): { onMain: MetricsAccess; ownListener: boolean } {
  if (env.METRICS_PORT !== undefined) return { onMain: { kind: 'none' }, ownListener: true }
  if (env.METRICS_TOKEN !== undefined) return { onMain: { kind: 'token', token: env.METRICS_TOKEN }, ownListener: false }
  return { onMain: env.AUTHTRAIL_ENV === 'development' ? { kind: 'public' } : { kind: 'none' }, ownListener: false }
}

function createMetricsApp(metrics: ServiceMetrics, token: string | undefined): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>()
  app.route('/', createMetricsRoutes(metrics, token === undefined ? { kind: 'public' } : { kind: 'token', token }))
  return app
}

/** What a newcomer sees after start-up in development: how to log in, and where the CEF lines go. */
export function developmentBanner(port: number, host: string, services: Pick<Services, 'embeddedDataDir' | 'cefFile' | 'relay' | 'passwordHasher'>): string {
  const base = `http://${host}:${port}`
  return [
    `authtrail listening on ${base} (${services.embeddedDataDir ? `embedded PostgreSQL in ${services.embeddedDataDir}` : 'DATABASE_URL'})`,
    `API reference: ${base}/docs`,
    `Password hashing: argon2id (${services.passwordHasher}; PASSWORD_HASHER chooses)`,
    services.relay ? `Outbox relay running${services.cefFile ? `; CEF lines are written to ${services.cefFile}` : ''}` : 'Outbox relay not running in this process',
    'Log in as the demo user:',
    `  curl -i -X POST ${base}/v1/auth/login -H 'content-type: application/json' \\`,
    `    -d '{"tenant":"${DEMO.tenant}","identifier":"${DEMO.user.identifier}","password":"${DEMO.user.password}"}'`,
    `Demo administrator (embedded database only): tenant ${DEMO.tenant}, ${DEMO.admin.identifier}, password "${DEMO.admin.password}"`,
  ].join('\n')
}
