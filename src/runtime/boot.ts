import type { OpenAPIHono } from '@hono/zod-openapi'
import { createApp, type AppDeps } from '../app.ts'
import { createArgon2Hasher } from '../auth/argon2-hasher.ts'
import { createTokenService } from '../auth/tokens.ts'
import type { Env } from '../config/env.ts'
import { createSql, type Sql } from '../db/client.ts'
import { startEmbeddedPostgres } from '../db/embedded-postgres.ts'
import { migrate } from '../db/migrate.ts'
import { DEMO, seedDemo } from '../db/seed-demo.ts'
import type { AppEnv, ClientAddressResolver } from '../http/app-env.ts'
import { createLogger } from '../http/logger.ts'

export interface Services {
  app: OpenAPIHono<AppEnv>
  sql: Sql
  /** Where the embedded PostgreSQL keeps its data; null when DATABASE_URL is used. */
  embeddedDataDir: string | null
  log: (entry: Record<string, unknown>) => void
  close(): Promise<void>
}

/**
 * Wires the service from validated configuration; shared by the Node, Bun and Deno entrypoints. Without
 * DATABASE_URL (development only, enforced by the config schema) it runs on an embedded PostgreSQL.
 */
export async function bootServices(env: Env, resolveAddress: ClientAddressResolver, extraDeps: Partial<AppDeps> = {}): Promise<Services> {
  const log = createLogger()
  const embeddedDataDir = env.DATABASE_URL === undefined ? `${env.DATA_DIR}/pglite` : null
  const embedded = embeddedDataDir ? await startEmbeddedPostgres(embeddedDataDir) : null
  const sql = createSql(env.DATABASE_URL ?? embedded!.url, { max: embedded ? 1 : env.DATABASE_POOL_SIZE })
  await migrate(sql)
  const hasher = createArgon2Hasher()
  if (env.AUTHTRAIL_ENV === 'development') await seedDemo(sql, hasher)
  const dummyHash = await hasher.hash(crypto.randomUUID())
  const app = createApp({
    sql,
    hasher,
    tokens: createTokenService(env.JWT_SECRET, env.JWT_ISSUER),
    clock: () => new Date(),
    dummyHash,
    resolveAddress,
    config: { tokenTtlSeconds: env.JWT_TTL_SECONDS, trustProxy: env.TRUST_PROXY, secureCookies: env.AUTHTRAIL_ENV !== 'development' },
    log,
    ...extraDeps,
  })
  return {
    app,
    sql,
    embeddedDataDir,
    log,
    close: async () => {
      await sql.end({ timeout: 5 })
      await embedded?.stop()
    },
  }
}

/** What a newcomer sees after start-up in development: how to log in. */
export function developmentBanner(port: number, host: string, embeddedDataDir: string | null): string {
  const base = `http://${host}:${port}`
  return [
    `authtrail listening on ${base} (${embeddedDataDir ? `embedded PostgreSQL in ${embeddedDataDir}` : 'DATABASE_URL'})`,
    `API reference: ${base}/docs`,
    'Log in as the demo user:',
    `  curl -i -X POST ${base}/v1/auth/login -H 'content-type: application/json' \\`,
    `    -d '{"tenant":"${DEMO.tenant}","identifier":"${DEMO.user.identifier}","password":"${DEMO.user.password}"}'`,
  ].join('\n')
}
