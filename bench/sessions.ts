import { createSessionCheck } from '../src/auth/check-session.ts'
import type { SessionClaims } from '../src/auth/tokens.ts'
import { createSql } from '../src/db/client.ts'
import { createTestApp, seedTenant } from '../test/support/test-app.ts'
import { checkpoint, createBenchDatabase } from './support/bench-database.ts'
import { BENCH_RIGHT_PASSWORD, createBenchOnlyHasher } from './support/bench-only-hasher.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'
import { runClosedLoop, type ClosedLoopResult } from './support/stats.ts'

const CLIENTS = 8

const VARIANTS = [
  'public request (JWKS, no token)',
  'token verification alone (EdDSA)',
  'session check alone (one indexed read)',
  'authenticated request (who am I)',
  'refresh (rotation, audited)',
] as const
type Variant = (typeof VARIANTS)[number]

interface Session {
  access: string
  refresh: string
  claims: SessionClaims
}

/**
 * What sessions cost, in-process (`app.request`, no HTTP), on one database, 8 clients each with its own
 * session: a refresh (the refresh token rotated under the session's lock, token_refreshed recorded in the
 * chain with its outbox row, a new EdDSA token signed) and the per-request session check (one indexed
 * read: the session row, its user's current role, the tenant's origins) against a plain authenticated
 * request (GET /v1/auth/session: the token verified, the session checked, one read), the EdDSA
 * verification alone, and an unauthenticated request through the same middleware.
 */
export const sessionsBenchmark: Benchmark = {
  name: 'sessions',
  title: 'Sessions: the cost of a refresh and of the per-request session check, beside a plain authenticated request',
  async run(ctx) {
    const seconds = ctx.quick ? 2 : 4
    const warmupMs = ctx.quick ? 300 : 500
    // Interleaved rounds, best of each: on a shared machine a load spike then hits one round, not one variant.
    const rounds = ctx.quick ? 1 : 3
    const db = await createBenchDatabase('sessions')
    const sql = createSql(db.url, { max: CLIENTS + 2 })
    try {
      const t = await createTestApp(sql, { hasher: createBenchOnlyHasher() })
      const identifiers = Array.from({ length: CLIENTS }, (_, i) => ({ identifier: `user${i}@bench.test`, password: BENCH_RIGHT_PASSWORD }))
      await seedTenant(sql, { slug: 'bench', name: 'Bench', users: identifiers })
      const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        t.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
      const sessions: Session[] = []
      for (const { identifier } of identifiers) {
        const res = await post('/v1/auth/login', { tenant: 'bench', identifier, password: BENCH_RIGHT_PASSWORD })
        if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`)
        const body = (await res.json()) as { access_token: string; refresh_token: string }
        sessions.push({ access: body.access_token, refresh: body.refresh_token, claims: await t.deps.tokens.verify(body.access_token) })
      }
      const check = createSessionCheck(sql, () => new Date())
      const direct = { viaCookie: false, csrfToken: null, unsafeMethod: false, crossOrigin: null }

      const operations: Record<Variant, (client: number) => Promise<void>> = {
        'public request (JWKS, no token)': async () => {
          const res = await t.app.request('/.well-known/jwks.json')
          if (res.status !== 200) throw new Error(`jwks answered ${res.status}`)
          await res.arrayBuffer()
        },
        'token verification alone (EdDSA)': async (client) => {
          await t.deps.tokens.verify(sessions[client]!.access)
        },
        'session check alone (one indexed read)': async (client) => {
          await check(sessions[client]!.claims, direct)
        },
        'authenticated request (who am I)': async (client) => {
          const res = await t.app.request('/v1/auth/session', { headers: { authorization: `Bearer ${sessions[client]!.access}` } })
          if (res.status !== 200) throw new Error(`who am I answered ${res.status}: ${await res.text()}`)
          await res.arrayBuffer()
        },
        'refresh (rotation, audited)': async (client) => {
          const session = sessions[client]!
          const res = await post('/v1/auth/refresh', { refresh_token: session.refresh })
          if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${await res.text()}`)
          const body = (await res.json()) as { access_token: string; refresh_token: string }
          session.refresh = body.refresh_token
          session.access = body.access_token
        },
      }

      const results = {} as Record<Variant, ClosedLoopResult>
      for (let round = 1; round <= rounds; round++) {
        for (const variant of VARIANTS) {
          await checkpoint(sql)
          const r = await runClosedLoop(CLIENTS, seconds * 1000, (client) => operations[variant](client), { warmupMs })
          if (r.errors > 0) throw new Error(`${variant}: ${r.errors} errors (${r.firstError ?? 'none'})`)
          ctx.log(`  round ${round} ${variant.padEnd(40)} ${fmt(r.rate)} /s, p50 ${fmt(r.latency.p50)} ms, p99 ${fmt(r.latency.p99)} ms`)
          if (!results[variant] || r.rate > results[variant].rate) results[variant] = r
        }
      }

      const table: Table = {
        title: `Operations/s and latency (ms), ${CLIENTS} clients, best of ${rounds} interleaved rounds of ${seconds} s per variant, in-process`,
        columns: ['variant', 'ops/s', 'p50', 'p99', 'ms per op (1 / rate × clients)'],
        rows: VARIANTS.map((v) => [v, results[v].rate, results[v].latency.p50, results[v].latency.p99, (1000 * CLIENTS) / results[v].rate]),
      }
      const request = results['authenticated request (who am I)']
      const refresh = results['refresh (rotation, audited)']
      const checkAlone = results['session check alone (one indexed read)']
      const msPer = (r: ClosedLoopResult) => (1000 * CLIENTS) / r.rate
      const figures: Figure[] = [
        {
          name: 'refresh, ms per operation',
          value: msPer(refresh),
          unit: 'ms',
          baseline: { name: 'authenticated request (who am I)', value: msPer(request) },
          ratio: msPer(refresh) / msPer(request),
        },
        {
          name: 'per-request session check, ms per check',
          value: msPer(checkAlone),
          unit: 'ms',
          baseline: { name: 'authenticated request (who am I)', value: msPer(request) },
          ratio: (msPer(checkAlone) / msPer(request)) * 100,
          ratioMeaning: 'share of the request',
          ratioUnit: '%',
        },
      ]
      return {
        tables: [table],
        figures,
        notes: [
          'ms per op = the time one client waits per operation at this concurrency; the session check is measured by calling it directly with the same pool, the request includes it.',
          'A revoked session, a changed role or an expired session is refused from the next request on: the bound is one request, at the cost of the check.',
        ],
      }
    } finally {
      await sql.end({ timeout: 5 })
      await db.drop()
    }
  },
}
