import { describe, expect, it } from 'vitest'
import { createBoundedHasher } from '../src/auth/bounded-hasher.ts'
import { createSql } from '../src/db/client.ts'
import { useTestDatabase } from './support/database.ts'
import { createTestApp, postJson, TEST_HASHER, useSeededTenant } from './support/test-app.ts'

const db = useTestDatabase('faults_overload')
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }] })

async function attempts(): Promise<{ n: number; refused: number }> {
  const [row] = await db.sql<{ n: number; refused: number }[]>`
    SELECT count(*)::int AS n, count(*) FILTER (WHERE metadata->>'problem_code' = 'service_unavailable' AND reason = 'overloaded')::int AS refused
    FROM auth_logs WHERE event_type IN ('login_failed', 'login_success')`
  return row!
}

describe('overload and database timeouts', () => {
  it('more parallel logins than the hashing queue holds: the excess gets 503 + Retry-After at once, each audited, nothing else written for it', async () => {
    const t = await createTestApp(db.sql, { hasher: createBoundedHasher(TEST_HASHER, { concurrency: 1, queue: 2 }) })
    const alice = acme.users['alice@acme.test']!
    const before = await attempts()
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password: alice.password })),
    )
    const statuses = answers.map((r) => r.status)
    const refused = answers.filter((r) => r.status === 503)
    expect(refused.length).toBeGreaterThan(0)
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3)
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true)
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toBe('1')
      expect(r.headers.get('content-type')).toBe('application/problem+json')
      expect((await r.json()).code).toBe('service_unavailable')
    }
    const after = await attempts()
    expect(after.n - before.n).toBe(20)
    expect(after.refused - before.refused).toBe(refused.length)
  })

  it('a chain head held by another transaction: the lock timeout ends the attempt with 503, nothing written', async () => {
    const timed = createSql(db.url, { max: 4, timeouts: { connectMs: 5000, statementMs: 4000, lockMs: 300, idleInTransactionMs: 10_000 } })
    const t = await createTestApp(timed)
    const holder = createSql(db.url, { max: 1 })
    try {
      const before = await attempts()
      let release!: () => void
      let locked!: () => void
      const lockTaken = new Promise<void>((resolve) => (locked = resolve))
      const held = holder.begin(async (tx) => {
        await tx`SELECT 1 FROM chain_heads WHERE tenant_id = ${acme.tenant.id} FOR UPDATE`
        locked()
        await new Promise<void>((resolve) => (release = resolve))
      })
      await lockTaken
      const started = Date.now()
      const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'nobody@acme.test', password: 'wrong password' })
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).not.toBeNull()
      expect(Date.now() - started).toBeLessThan(5000)
      release()
      await held
      expect((await attempts()).n).toBe(before.n)
      const again = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'nobody@acme.test', password: 'wrong password' })
      expect(again.status).toBe(401)
    } finally {
      await holder.end()
      await timed.end()
    }
  })

  it('a stalled database: the request is answered 503 + Retry-After within the bound', async () => {
    const started = Date.now()
    // /healthz on a database that never answers: a server socket that accepts and says nothing.
    const { createServer } = await import('node:net')
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()))
    const port = (silent.address() as { port: number }).port
    const dead = createSql(`postgres://postgres@127.0.0.1:${port}/none`, { max: 1 })
    const slow = await createTestApp(dead, { config: { tokenTtlSeconds: 3600, trustProxy: true, secureCookies: true, requestTimeoutMs: 500 } })
    const begun = Date.now()
    const answer = await slow.app.request('/healthz')
    expect(answer.status).toBe(503)
    expect(answer.headers.get('retry-after')).toBe('5')
    expect(Date.now() - begun).toBeLessThan(3000)
    expect(Date.now() - started).toBeLessThan(10_000)
    await dead.end({ timeout: 0 })
    silent.close()
  })
})
