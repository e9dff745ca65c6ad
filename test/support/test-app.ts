import { createApp, type AppDeps } from '../../src/app.ts'
import { createArgon2Hasher } from '../../src/auth/argon2-hasher.ts'
import type { PasswordHasher } from '../../src/auth/password-hasher.ts'
import { createTokenService, type PrivateJwk, type SessionClaims, type TokenService } from '../../src/auth/tokens.ts'
import type { Role } from '../../src/core/tenancy.ts'
import type { Sql } from '../../src/db/client.ts'
import { createOrganisation, createTenant, createUser, type NewTenant, type Tenant } from '../../src/db/tenants.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { beforeAll } from 'vitest'
import type { TestDatabase } from './database.ts'
import { lateBound } from './late-bound.ts'

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789'

/** The Ed25519 key tests sign access tokens with (a throwaway, for tests only); JWT_SIGNING_KEY of spawned services. */
export const TEST_SIGNING_KEY: PrivateJwk = {
  kty: 'OKP',
  crv: 'Ed25519',
  x: 'k7moLInXxk3DxKXFVLp4bO5qYfhJzFrNd2xJkjM0wUQ',
  d: '_PmzWz6QuXnmv5W1IhlGzcwSRRv7oj_hzBnT8RqDj7Q',
  kid: 'test-2026-12',
  alg: 'EdDSA',
}
export const TEST_JWT_SIGNING_KEY = JSON.stringify(TEST_SIGNING_KEY)

/** The token service of the tests, as a service configured with TEST_JWT_SIGNING_KEY has it. */
export const testTokenService = (): TokenService => createTokenService({ signing: TEST_SIGNING_KEY }, 'authtrail')

/**
 * The test app's tokens: `issue` also stores the session the token names (every access token is checked
 * against its session per request), so a test can mint a token for any user as a login would.
 */
export interface TestTokens extends Omit<TokenService, 'issue'> {
  issue(claims: Omit<SessionClaims, 'iss' | 'sid'> & { sid?: string }): Promise<string>
}

function withStoredSessions(sql: Sql, tokens: TokenService): TestTokens {
  return {
    ...tokens,
    issuer: tokens.issuer,
    algorithm: tokens.algorithm,
    issue: async (claims) => {
      const sid = claims.sid ?? uuidv7()
      const iat = new Date(claims.iat * 1000)
      // The session row alone, without a refresh token (a login storing its session later only updates it).
      await sql`
        INSERT INTO auth_sessions (id, tenant_id, user_id, channel, device_id, csrf_hash, created_at, expires_at)
        VALUES (${sid}, ${claims.tid}, ${claims.sub}, 'web', NULL, NULL, ${iat}, ${new Date((claims.exp + 86_400) * 1000)})
        ON CONFLICT (id) DO NOTHING`
      return tokens.issue({ ...claims, sid })
    },
  }
}

/** One argon2id hasher at OWASP parameters for every test: the real thing, about 7 ms per verification. */
export const TEST_HASHER: PasswordHasher = createArgon2Hasher()
const hasher = TEST_HASHER
let dummyHash: Promise<string> | null = null

export interface TestApp {
  app: ReturnType<typeof createApp>
  deps: AppDeps
  tokens: TestTokens
  hasher: PasswordHasher
  /** Lets a test move time forward (lockout expiry) without waiting. */
  clock: { now: Date | null; advance(ms: number): void }
  logs: Record<string, unknown>[]
}

/** Builds the real application over a test database, with a settable clock and captured logs. */
export async function createTestApp(sql: Sql, overrides: Partial<AppDeps> = {}): Promise<TestApp> {
  dummyHash ??= hasher.hash(crypto.randomUUID())
  const clock = {
    now: null as Date | null,
    advance(ms: number) {
      this.now = new Date((this.now ?? new Date()).getTime() + ms)
    },
  }
  const tokens = testTokenService()
  const logs: Record<string, unknown>[] = []
  const deps: AppDeps = {
    sql,
    hasher,
    tokens,
    clock: () => clock.now ?? new Date(),
    dummyHash: await dummyHash,
    resolveAddress: () => '203.0.113.7',
    // The request bound is tested on its own (overload.test.ts, 500 ms); elsewhere it is set far above what
    // 50 parallel argon2id checks take on a loaded two-core machine, so that it never decides a test.
    config: { tokenTtlSeconds: 3600, trustProxy: true, secureCookies: true, requestTimeoutMs: 60_000 },
    log: (entry) => logs.push(entry),
    ...overrides,
  }
  return { app: createApp(deps), deps, tokens: withStoredSessions(sql, deps.tokens), hasher, clock, logs }
}

/**
 * The test file's application over its database, built before its tests (after the database, see
 * useTestDatabase). `overrides` may be computed from the database.
 *
 * @example
 * const db = useTestDatabase('login')
 * const t = useTestApp(db, { hasher: countingHasher(TEST_HASHER) })
 */
export function useTestApp(db: TestDatabase, overrides: Partial<AppDeps> | ((db: TestDatabase) => Partial<AppDeps>) = {}): TestApp {
  let app: TestApp | undefined
  beforeAll(async () => {
    app = await createTestApp(db.sql, typeof overrides === 'function' ? overrides(db) : overrides)
  })
  return lateBound('the test app', () => app)
}

export interface SeededTenant {
  tenant: Tenant
  organisationId: string
  users: Record<string, { id: string; identifier: string; password: string; role: Role }>
}

/** A tenant with an organisation and users (passwords hashed with the real argon2id). */
export async function seedTenant(
  sql: Sql,
  options: NewTenant & { users?: { identifier: string; password?: string; role?: Role }[] },
): Promise<SeededTenant> {
  const tenant = await createTenant(sql, options)
  const org = await createOrganisation(sql, tenant.id, `${options.slug}-org`)
  const users: SeededTenant['users'] = {}
  for (const u of options.users ?? []) {
    const password = u.password ?? `pw-${u.identifier}-long-enough`
    const { id } = await createUser(sql, { tenantId: tenant.id, organisationId: org.id, identifier: u.identifier, passwordHash: await hasher.hash(password), role: u.role ?? 'user' })
    users[u.identifier] = { id, identifier: u.identifier, password, role: u.role ?? 'user' }
  }
  return { tenant, organisationId: org.id, users }
}

/** A tenant seeded in the test file's database before its tests (after the database and the app). */
export function useSeededTenant(db: TestDatabase, options: Parameters<typeof seedTenant>[1]): SeededTenant {
  let seeded: SeededTenant | undefined
  beforeAll(async () => {
    seeded = await seedTenant(db.sql, options)
  })
  return lateBound(`tenant ${options.slug}`, () => seeded)
}

/** A bearer token for a seeded user, as the login would issue it. */
export async function bearerFor(tokens: TestTokens, seeded: SeededTenant, identifier: string): Promise<string> {
  const user = seeded.users[identifier]!
  const iat = Math.floor(Date.now() / 1000)
  const token = await tokens.issue({ sub: user.id, tid: seeded.tenant.id, org: seeded.organisationId, role: user.role, jti: uuidv7(), iat, exp: iat + 600 })
  return `Bearer ${token}`
}

/** POSTs JSON to the app in-process. */
export function postJson(app: TestApp['app'], path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'vitest', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  )
}

/** GETs a path in-process with a bearer token. */
export async function getWith(app: TestApp['app'], path: string, authorization?: string): Promise<Response> {
  return app.request(path, { headers: authorization ? { authorization } : {} })
}

/** POSTs without a body in-process with a bearer token. */
export async function postWith(app: TestApp['app'], path: string, authorization?: string, headers: Record<string, string> = {}): Promise<Response> {
  return app.request(path, { method: 'POST', headers: { ...(authorization ? { authorization } : {}), ...headers } })
}

/** A problem body without the fields that differ between any two requests (request id, path). */
export function comparableProblem(body: Record<string, unknown>): Record<string, unknown> {
  const { request_id: _r, instance: _i, ...rest } = body
  return rest
}
