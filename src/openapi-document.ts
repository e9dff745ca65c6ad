import { createApp, OPENAPI_INFO } from './app.ts'
import type { PasswordHasher } from './auth/password-hasher.ts'
import { createTokenService } from './auth/tokens.ts'
import { createSql } from './db/client.ts'
import { createServiceMetrics } from './metrics/service-metrics.ts'

const inert: PasswordHasher = {
  hash: async () => '',
  verify: async () => false,
}

/**
 * The OpenAPI 3.1 document of every route, built from the same createApp the service runs, with inert
 * dependencies: nothing connects (the SQL client connects lazily and is never queried).
 */
export async function buildOpenApiDocument(): Promise<unknown> {
  const sql = createSql('postgres://openapi@127.0.0.1:1/none', { max: 1 })
  const app = createApp({
    sql,
    hasher: inert,
    tokens: createTokenService('x'.repeat(32), 'authtrail'),
    clock: () => new Date(0),
    dummyHash: '',
    resolveAddress: () => null,
    config: { tokenTtlSeconds: 3600, trustProxy: false, secureCookies: true },
    log: () => {},
    metrics: createServiceMetrics({ defaultMetrics: false }),
  })
  const document = app.getOpenAPI31Document(OPENAPI_INFO)
  await sql.end({ timeout: 0 })
  return document
}

/** The committed file's exact text: stable key order from the generator, two-space indent, final newline. */
export function serialiseOpenApiDocument(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`
}
