import { describe, expect, it } from 'vitest'
import { createBoundedHasher } from '../src/auth/bounded-hasher.ts'
import type { PasswordHasher } from '../src/auth/password-hasher.ts'
import { createSql } from '../src/db/client.ts'
import { useTestDatabase } from './support/database.ts'
import { createTestApp, postJson, TEST_HASHER, useSeededTenant } from './support/test-app.ts'

const db = useTestDatabase('faults_overload')
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }, { identifier: 'bob@acme.test' }, { identifier: 'carol@acme.test' }] })

/** TEST_HASHER whose verifications wait while the gate is closed; `entered()` counts those begun. */
function gatedHasher(): { hasher: PasswordHasher; entered(): number; close(): void; open(): void } {
  let gate: Promise<void> | null = null
  let openGate = () => {}
  let entered = 0
  return {
    hasher: {
      hash: (password) => TEST_HASHER.hash(password),
      verify: async (hash, password) => {
        entered++
        if (gate) await gate
        return TEST_HASHER.verify(hash, password)
      },
    },
    entered: () => entered,
    close() {
      gate = new Promise<void>((resolve) => (openGate = resolve))
    },
    open() {
      openGate()
      gate = null
    },
  }
}

/** Each attempt from its own network, so that no per-address throttle answers instead. */
const from = (i: number) => ({ 'x-forwarded-for': `10.${i % 250}.${Math.floor(i / 250)}.1` })

/** Holds `table` locked against every read and write until `release()`. */
async function lockTable(table: 'users'): Promise<{ release(): Promise<void>; end(): Promise<void> }> {
  const holder = createSql(db.url, { max: 1 })
  let release!: () => void
  let locked!: () => void
  const lockTaken = new Promise<void>((resolve) => (locked = resolve))
  const held = holder.begin(async (tx) => {
    await tx.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
    locked()
    await new Promise<void>((resolve) => (release = resolve))
  })
  await lockTaken
  return {
    release: async () => {
      release()
      await held
    },
    end: () => holder.end(),
  }
}

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
    expect((t.deps.hasher as ReturnType<typeof createBoundedHasher>).pending()).toBe(0)
  })

  it('with every hashing place taken, a login is refused before its database reads: answered while the accounts cannot be read, audited', async () => {
    const gate = gatedHasher()
    const hasher = createBoundedHasher(gate.hasher, { concurrency: 1, queue: 0 })
    const t = await createTestApp(db.sql, { hasher })
    const alice = acme.users['alice@acme.test']!
    const bob = acme.users['bob@acme.test']!
    const before = await attempts()
    gate.close()
    const filler = postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password: alice.password }, from(1))
    await expect.poll(gate.entered, { timeout: 20_000 }).toBe(1)
    // Nobody can read an account now: an attempt that read before asking the queue would wait here.
    const users = await lockTable('users')
    try {
      const refused = await Promise.race([
        postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: bob.identifier, password: bob.password }, from(2)),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the refusal waited for the accounts table')), 20_000)),
      ])
      expect(refused.status).toBe(503)
      expect(refused.headers.get('retry-after')).toBe('1')
      expect((await refused.json()).code).toBe('service_unavailable')
      const [row] = await db.sql<{ identifier: string }[]>`
        SELECT identifier FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND reason = 'overloaded' ORDER BY occurred_at DESC LIMIT 1`
      expect(row!.identifier).toBe(bob.identifier)
    } finally {
      await users.release()
      await users.end()
    }
    gate.open()
    expect((await filler).status).toBe(200)
    const after = await attempts()
    expect(after.n - before.n).toBe(2)
    expect(after.refused - before.refused).toBe(1)
    expect(hasher.pending()).toBe(0)
  })

  it('attempts on a locked account need no hashing place: once the process has seen them, they are answered 423 while every place hashes', async () => {
    const gate = gatedHasher()
    const hasher = createBoundedHasher(gate.hasher, { concurrency: 1, queue: 0 })
    const t = await createTestApp(db.sql, { hasher })
    const alice = acme.users['alice@acme.test']!
    const bob = acme.users['bob@acme.test']!
    const carol = acme.users['carol@acme.test']!
    await db.sql`
      INSERT INTO account_lockouts (tenant_id, identifier, user_id, failed_login_attempts, window_started_at, last_failed_at, account_locked_until, lockout_count, last_locked_at)
      VALUES (${acme.tenant.id}, ${carol.identifier}, ${carol.id}, 5, now(), now(), now() + interval '1 hour', 1, now())
      ON CONFLICT (tenant_id, identifier) DO UPDATE SET account_locked_until = now() + interval '1 hour'`
    const onCarol = (i: number) => postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: carol.identifier, password: carol.password }, from(100 + i))

    // At start-up the queue assumes every attempt hashes: with its one place hashing, even a locked account is refused (audited).
    gate.close()
    const firstFiller = postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password: alice.password }, from(3))
    await expect.poll(gate.entered, { timeout: 20_000 }).toBe(1)
    expect((await onCarol(0)).status).toBe(503)
    gate.open()
    expect((await firstFiller).status).toBe(200)

    // A campaign on the locked account: none of its attempts hashes, so they soon count for little.
    for (let i = 1; i <= 40; i++) expect((await onCarol(i)).status).toBe(423)

    // The one place hashing again; the campaign goes on, in parallel, and is answered 423, not refused.
    const before = await attempts()
    gate.close()
    const filler = postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password: alice.password }, from(4))
    await expect.poll(gate.entered, { timeout: 20_000 }).toBe(2)
    const campaign = await Promise.all(Array.from({ length: 20 }, (_, i) => onCarol(50 + i)))
    expect(campaign.map((r) => r.status)).toEqual(Array(20).fill(423))
    // A login that does need a place, let through because what arrives mostly does not hash: refused after its reads, audited.
    const late = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: bob.identifier, password: bob.password }, from(5))
    expect(late.status).toBe(503)
    expect(late.headers.get('retry-after')).toBe('1')
    gate.open()
    expect((await filler).status).toBe(200)
    const after = await attempts()
    expect(after.n - before.n).toBe(22)
    expect(after.refused - before.refused).toBe(1)
    expect(hasher.pending()).toBe(0)
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
