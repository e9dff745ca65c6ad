import { describe, expect, it } from 'vitest'
import { attemptLogin, type LoginDeps, type LoginInput } from '../src/auth/attempt-login.ts'
import { deterministicUuid } from '../src/core/ids.ts'
import { useTestDatabase } from './support/database.ts'
import { countingHasher, heldHasher } from './support/counting-hasher.ts'
import { secretDigest } from '../src/auth/session-secrets.ts'
import { seedTenant, TEST_HASHER, useTestApp, type SeededTenant } from './support/test-app.ts'
import { createHashAdmission, type HashAdmission } from '../src/auth/hash-admission.ts'
import { randomUUID } from 'node:crypto'
import { createBoundedHasher, HashQueueFullError } from '../src/auth/bounded-hasher.ts'
import { RequestDeadlineError, withRequestDeadline } from '../src/db/request-deadline.ts'
import { holdCommits } from './support/hold-commits.ts'
import { lockWaits } from './support/lock-waits.ts'
import { until } from './support/until.ts'
import { createSql } from '../src/db/client.ts'

// The login use case's answers and what it stores for them, driven directly with a fixed clock: the outcome
// each stored event carries, which attempt triggered a lockout (the lockout metric counts these), and the
// answer a retried request gets when its first attempt was answered "locked".

const db = useTestDatabase('attempt_login')
const t = useTestApp(db)
const T0 = new Date('2030-06-01T12:00:00.000Z')
let tenantCounter = 0

async function setUp() {
  const seeded = await seedTenant(db.sql, {
    slug: `attempt-login-${++tenantCounter}`,
    lockoutPolicy: { maxFailures: 3, windowSeconds: 600, baseLockSeconds: 300, multiplier: 2, maxLockSeconds: 3_600 },
    users: [{ identifier: 'carol@example.test' }],
  })
  const clock = { now: T0 }
  const hasher = countingHasher(TEST_HASHER)
  const deps: LoginDeps = {
    sql: db.sql,
    hasher,
    tokens: t.tokens,
    clock: () => clock.now,
    dummyHash: t.deps.dummyHash,
    tokenTtlSeconds: 3_600,
  }
  const carol = seeded.users['carol@example.test']!
  const login = (password: string, idempotencyKey: string | null = null, identifierAsTyped?: string) =>
    attemptLogin(deps, {
      tenant: seeded.tenant,
      identifier: carol.identifier,
      ...(identifierAsTyped === undefined ? {} : { identifierAsTyped }),
      password,
      origin: { ip: '192.0.2.10', userAgent: 'vitest', deviceId: null, channel: 'web' },
      idempotencyKey,
    } satisfies LoginInput)
  const advance = (ms: number) => {
    clock.now = new Date(clock.now.getTime() + ms)
  }
  return { seeded, carol, login, advance, hasher, deps }
}

/**
 * Holds the tenant's chain heads (FOR UPDATE) while `during` starts attempts and waits for them: they read
 * their snapshots and then wait inside the append until `during` has returned and the hold is let go.
 */
async function whileChainHeadsHeld(tenantId: string, during: () => Promise<void>): Promise<void> {
  await db.sql.begin(async (tx) => {
    await tx`SELECT seq FROM chain_heads WHERE tenant_id = ${tenantId} FOR UPDATE`
    await during()
  })
}

/** Until `n` sessions of the test's database wait for a lock (attempts waiting inside the append). */
const waitingInAppend = (n: number, what: string) => until(async () => (await lockWaits(db)) >= n, 60_000, what)

function storedEvents(seeded: SeededTenant) {
  return db.sql<{ event_type: string; outcome: string; reason: string | null }[]>`
    SELECT event_type, outcome, reason FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} ORDER BY shard, seq`
}

const countRows = async (seeded: SeededTenant) => {
  const [r] = await db.sql<{ logs: number; outbox: number }[]>`
    SELECT (SELECT count(*)::int FROM auth_logs WHERE tenant_id = ${seeded.tenant.id}) AS logs,
           (SELECT count(*)::int FROM outbox WHERE tenant_id = ${seeded.tenant.id}) AS outbox`
  return r!
}

describe('attemptLogin', () => {
  it('stores each event with the outcome of its type: failures, the lockout, its reset and the success', async () => {
    const { seeded, carol, login, advance } = await setUp()
    for (let i = 0; i < 3; i++) await login('wrong password')
    expect(await login(carol.password)).toMatchObject({ kind: 'locked' })
    advance(300_000)
    expect(await login(carol.password)).toMatchObject({ kind: 'success', replayed: false })
    expect(await storedEvents(seeded)).toEqual([
      { event_type: 'login_failed', outcome: 'failure', reason: 'invalid_credentials' },
      { event_type: 'login_failed', outcome: 'failure', reason: 'invalid_credentials' },
      { event_type: 'login_failed', outcome: 'failure', reason: 'invalid_credentials' },
      { event_type: 'account_locked', outcome: 'failure', reason: 'too_many_failures' },
      { event_type: 'login_failed', outcome: 'failure', reason: 'account_locked' },
      { event_type: 'lockout_reset', outcome: 'success', reason: 'lockout_expired' },
      { event_type: 'login_success', outcome: 'success', reason: null },
    ])
  })

  it('says newLockout only for the attempt that locked the account, not for attempts answered while locked', async () => {
    const { login, hasher } = await setUp()
    expect(await login('wrong password')).toMatchObject({ kind: 'invalid_credentials' })
    expect(await login('wrong password')).toMatchObject({ kind: 'invalid_credentials' })
    expect(await login('wrong password')).toEqual(expect.objectContaining({ kind: 'locked', newLockout: true, retryAfterSeconds: 300, replayed: false }))
    const verified = hasher.verifications.length
    expect(await login('wrong password')).toEqual(expect.objectContaining({ kind: 'locked', newLockout: false, retryAfterSeconds: 300, replayed: false }))
    // Answered without hashing.
    expect(hasher.verifications).toHaveLength(verified)
  })

  it('answers a retry of an attempt answered "locked" with "locked" and the time left, writing nothing', async () => {
    const { seeded, login, advance } = await setUp()
    await login('wrong password')
    await login('wrong password')
    const first = await login('wrong password', 'retry-of-the-locking-attempt')
    expect(first).toMatchObject({ kind: 'locked', newLockout: true, retryAfterSeconds: 300, replayed: false })
    const rows = await countRows(seeded)

    advance(100_000)
    const replay = await login('wrong password', 'retry-of-the-locking-attempt')
    expect(replay).toEqual({ kind: 'locked', retryAfterSeconds: 200, eventId: first.eventId, replayed: true, newLockout: false })
    advance(199_500)
    expect(await login('wrong password', 'retry-of-the-locking-attempt')).toMatchObject({ kind: 'locked', retryAfterSeconds: 1, replayed: true })
    expect(await countRows(seeded)).toEqual(rows)

    // Once the lock is over, the same retry is answered as the failure it was.
    advance(500)
    expect(await login('wrong password', 'retry-of-the-locking-attempt')).toEqual({ kind: 'invalid_credentials', eventId: first.eventId, replayed: true })
    expect(await countRows(seeded)).toEqual(rows)
  })

  it('answers a retry of an attempt made while locked with "locked" too', async () => {
    const { seeded, login, advance } = await setUp()
    for (let i = 0; i < 3; i++) await login('wrong password')
    advance(60_000)
    const whileLocked = await login('wrong password', 'retry-while-locked')
    expect(whileLocked).toMatchObject({ kind: 'locked', newLockout: false, retryAfterSeconds: 240 })
    const rows = await countRows(seeded)
    advance(40_000)
    expect(await login('wrong password', 'retry-while-locked')).toEqual({ kind: 'locked', retryAfterSeconds: 200, eventId: whileLocked.eventId, replayed: true, newLockout: false })
    expect(await countRows(seeded)).toEqual(rows)
  })

  it('answers a retry of an attempt answered "throttled" with "throttled" and the time left, then as the failure it was', async () => {
    const { seeded, carol, advance, deps } = await setUp()
    // An address with a budget of two failures: the third attempt from it is throttled (before the account locks at three).
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 2 } }
    const login = (idempotencyKey: string | null) =>
      attemptLogin(deps, {
        tenant,
        identifier: carol.identifier,
        password: 'wrong password',
        origin: { ip: '198.51.100.7', userAgent: 'vitest', deviceId: null, channel: 'web' },
        idempotencyKey,
      })
    await login(null)
    await login(null)
    const first = await login('retry-of-the-throttled-attempt')
    expect(first).toMatchObject({ kind: 'throttled', replayed: false, newEpisode: true })
    if (first.kind !== 'throttled') throw new Error('expected a throttled attempt')
    const rows = await countRows(seeded)

    advance(10_000)
    const replay = await login('retry-of-the-throttled-attempt')
    expect(replay).toEqual({ kind: 'throttled', retryAfterSeconds: first.retryAfterSeconds - 10, eventId: first.eventId, replayed: true, newEpisode: false })
    expect(await countRows(seeded)).toEqual(rows)

    advance((first.retryAfterSeconds - 10) * 1000)
    expect(await login('retry-of-the-throttled-attempt')).toEqual({ kind: 'invalid_credentials', eventId: first.eventId, replayed: true })
    expect(await countRows(seeded)).toEqual(rows)
  })

  it("spends the address's failure budget on failures only: a success in between leaves it as it was", async () => {
    const { seeded, carol, deps } = await setUp()
    // A budget of two failures from the address; the account locks only at three.
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 2 } }
    const login = (password: string) =>
      attemptLogin(deps, {
        tenant,
        identifier: carol.identifier,
        password,
        origin: { ip: '198.51.100.8', userAgent: 'vitest', deviceId: null, channel: 'web' },
        idempotencyKey: null,
      })
    expect(await login('wrong password')).toMatchObject({ kind: 'invalid_credentials' })
    expect(await login(carol.password)).toMatchObject({ kind: 'success' })
    expect(await login('wrong password')).toMatchObject({ kind: 'invalid_credentials' })
    expect(await login('wrong password')).toMatchObject({ kind: 'throttled', newEpisode: true })
  })

  it('marks a failed attempt on a known account without the unknown-identifier risk signal', async () => {
    const { seeded, login } = await setUp()
    await login('wrong password')
    const [row] = await db.sql<{ risk: { signals: string[] } }[]>`SELECT risk FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} AND event_type = 'login_failed'`
    expect(row!.risk.signals).not.toContain('unknown_identifier')
  })

  it('answers a retry of a plain failure with the failure, even while the account is locked since', async () => {
    const { seeded, login, hasher } = await setUp()
    const first = await login('wrong password', 'retry-of-a-plain-failure')
    await login('wrong password')
    await login('wrong password')
    const rows = await countRows(seeded)
    const verified = hasher.verifications.length
    expect(await login('wrong password', 'retry-of-a-plain-failure')).toEqual({ kind: 'invalid_credentials', eventId: first.eventId, replayed: true })
    expect(await countRows(seeded)).toEqual(rows)
    // Answered from the trail: no password hashed for it.
    expect(hasher.verifications).toHaveLength(verified)
  })

  it('records the identifier as typed in the attempt\'s own event, failed or successful, and nowhere else', async () => {
    const { seeded, carol, login, advance } = await setUp()
    const typed = ' Carol@Example.TEST'
    for (let i = 0; i < 3; i++) await login('wrong password', null, typed)
    advance(300_000)
    await login(carol.password, null, typed)
    await login(carol.password)
    await login(carol.password, null, carol.identifier)
    const events = await db.sql<{ event_type: string; metadata: Record<string, unknown> }[]>`
      SELECT event_type, metadata FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} ORDER BY shard, seq`
    expect(events.map((e) => [e.event_type, e.metadata.identifier_as_typed])).toEqual([
      ['login_failed', typed],
      ['login_failed', typed],
      ['login_failed', typed],
      ['account_locked', undefined],
      ['lockout_reset', undefined],
      ['login_success', typed],
      ['login_success', undefined],
      ['login_success', undefined],
    ])
    // Typed as normalised, or not given: no key at all.
    expect(events.filter((e) => e.metadata.identifier_as_typed === undefined && e.event_type.startsWith('login_')).every((e) => !('identifier_as_typed' in e.metadata))).toBe(true)
  })

  it('gives the lockout and reset events of an attempt ids derived from the attempt\'s, so that a retry maps to the very same events', async () => {
    const { seeded, carol, login, advance } = await setUp()
    await login('wrong password')
    await login('wrong password')
    const locking = await login('wrong password', 'the-locking-attempt')
    advance(300_000)
    const success = await login(carol.password, 'the-success-after-the-lock')
    const events = await db.sql<{ id: string; event_type: string }[]>`
      SELECT id, event_type FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} AND event_type IN ('account_locked', 'lockout_reset') ORDER BY shard, seq`
    expect(events).toEqual([
      { id: deterministicUuid(locking.eventId, 'account_locked', 'too_many_failures'), event_type: 'account_locked' },
      { id: deterministicUuid(success.eventId, 'lockout_reset', 'lockout_expired'), event_type: 'lockout_reset' },
    ])
  })

  it('replays a success to the same password as replayed, with the same token, writing nothing', async () => {
    const { seeded, carol, login, advance } = await setUp()
    const first = await login(carol.password, 'retry-of-a-success')
    expect(first).toMatchObject({ kind: 'success', replayed: false })
    if (first.kind !== 'success') throw new Error('expected a success')
    const rows = await countRows(seeded)
    advance(5_000)
    const replay = await login(carol.password, 'retry-of-a-success')
    expect(replay).toEqual({ kind: 'success', token: first.token, claims: first.claims, eventId: first.eventId, replayed: true })
    expect(await countRows(seeded)).toEqual(rows)
  })

  it('answers a retry of a success with another password as a new failed attempt, hashing the password once', async () => {
    const { seeded, carol, login, hasher } = await setUp()
    const first = await login(carol.password, 'retry-of-a-success-with-a-guess')
    const verified = hasher.verifications.length
    const guess = await login('a guess', 'retry-of-a-success-with-a-guess')
    expect(guess).toMatchObject({ kind: 'invalid_credentials', replayed: false })
    expect(guess.eventId).not.toBe(first.eventId)
    // Checked against the stored hash once, to refuse the replay; that check is the new attempt's too.
    expect(hasher.verifications).toHaveLength(verified + 1)
    expect(await storedEvents(seeded)).toEqual([
      { event_type: 'login_success', outcome: 'success', reason: null },
      { event_type: 'login_failed', outcome: 'failure', reason: 'invalid_credentials' },
    ])
  })

  it('with sessions on, stores one session and one refresh token with a success, the token it returns, and none with a failure', async () => {
    const { seeded, carol, login, deps } = await setUp()
    deps.refreshTtlSeconds = 86_400
    const stored = async () => {
      const [r] = await db.sql<{ sessions: number; tokens: number }[]>`
        SELECT (SELECT count(*)::int FROM auth_sessions WHERE tenant_id = ${seeded.tenant.id}) AS sessions,
               (SELECT count(*)::int FROM refresh_tokens WHERE tenant_id = ${seeded.tenant.id}) AS tokens`
      return r!
    }
    expect(await login('wrong password')).toMatchObject({ kind: 'invalid_credentials' })
    expect(await login('wrong password')).toMatchObject({ kind: 'invalid_credentials' })
    expect(await stored()).toEqual({ sessions: 0, tokens: 0 })

    const success = await login(carol.password)
    if (success.kind !== 'success') throw new Error(`expected a success, got ${success.kind}`)
    // Stored with the event; the route gives this refresh token out and opens no second session.
    expect(success.opened).toEqual({ refreshToken: expect.any(String), csrfToken: expect.any(String), expiresAt: new Date(T0.getTime() + 86_400_000) })
    expect(await stored()).toEqual({ sessions: 1, tokens: 1 })
    const [token] = await db.sql<{ token_hash: Buffer; session_id: string }[]>`SELECT token_hash, session_id FROM refresh_tokens WHERE tenant_id = ${seeded.tenant.id}`
    expect(Buffer.from(token!.token_hash).equals(Buffer.from(secretDigest(success.opened!.refreshToken)))).toBe(true)
    expect(token!.session_id).toBe(success.claims.sid)

    // Three failures lock the account: the locking attempt and one answered "locked" open nothing either.
    for (let i = 0; i < 3; i++) await login('wrong password')
    expect(await login(carol.password)).toMatchObject({ kind: 'locked' })
    expect(await stored()).toEqual({ sessions: 1, tokens: 1 })
  })

  it('with sessions on, a success decided on a stale snapshot stores its session only when it is recorded: one session, the one it returns', async () => {
    const { seeded, carol, login, deps } = await setUp()
    deps.refreshTtlSeconds = 86_400
    await login('wrong password')
    let failure!: ReturnType<typeof login>
    let success!: ReturnType<typeof login>
    await whileChainHeadsHeld(seeded.tenant.id, async () => {
      // The failure appends first and changes the lockout row: the success's call finds its snapshot stale,
      // writes nothing, and the success is decided again and recorded with a session of its own.
      failure = login('wrong password')
      failure.catch(() => {})
      await waitingInAppend(1, 'the failure waiting inside the append')
      success = login(carol.password)
      success.catch(() => {})
      await waitingInAppend(2, 'the success waiting inside the append')
    })
    expect(await failure).toMatchObject({ kind: 'invalid_credentials' })
    const s = await success
    if (s.kind !== 'success') throw new Error(`expected a success, got ${s.kind}`)
    const sessions = await db.sql<{ id: string }[]>`SELECT id FROM auth_sessions WHERE tenant_id = ${seeded.tenant.id}`
    const tokens = await db.sql<{ token_hash: Buffer; session_id: string }[]>`SELECT token_hash, session_id FROM refresh_tokens WHERE tenant_id = ${seeded.tenant.id}`
    expect(sessions.map((r) => r.id)).toEqual([s.claims.sid])
    expect(tokens).toHaveLength(1)
    expect(tokens[0]!.session_id).toBe(s.claims.sid)
    expect(Buffer.from(tokens[0]!.token_hash).equals(Buffer.from(secretDigest(s.opened!.refreshToken)))).toBe(true)
  })

  it('two concurrent retries that both reach the append: one records the attempt, the other answers as its retry', async () => {
    const { seeded, carol, login } = await setUp()
    // The account's chain head exists once the account has an event; hold its row so that both retries
    // have passed the look-up for a recorded attempt and wait inside the append.
    await login('wrong password')
    let retries!: Promise<Awaited<ReturnType<typeof login>>[]>
    await whileChainHeadsHeld(seeded.tenant.id, async () => {
      retries = Promise.all([login('wrong password', 'raced-retry'), login('wrong password', 'raced-retry')])
      // Awaited below, once the hold is let go; a failure is reported there.
      retries.catch(() => {})
      await waitingInAppend(2, 'the two retries both waiting inside the append')
    })
    const answers = await retries
    const eventId = deterministicUuid('login', seeded.tenant.id, 'web', carol.identifier, 'raced-retry')
    expect(answers.map((a) => a.eventId)).toEqual([eventId, eventId])
    expect(answers.map((a) => a.kind)).toEqual(['invalid_credentials', 'invalid_credentials'])
    expect(answers.map((a) => a.replayed).sort()).toEqual([false, true])
    expect(await countRows(seeded)).toEqual({ logs: 2, outbox: 2 })
    const [lock] = await db.sql`SELECT failed_login_attempts FROM account_lockouts WHERE tenant_id = ${seeded.tenant.id} AND identifier = ${carol.identifier}`
    expect(lock!.failed_login_attempts).toBe(2)
  })

  it('two retries refused inside a throttling episode that both reach the append insert one event: the other answers as its retry', async () => {
    const { seeded, carol, deps } = await setUp()
    // Refused inside an episode, an attempt changes no state (no lockout, the address's row unchanged): both
    // retries pass every check of the append but the event's id, which the second finds taken when it inserts.
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 2 } }
    const login = (idempotencyKey: string | null) => attemptLogin(deps, {
      tenant, identifier: carol.identifier, password: 'wrong password', idempotencyKey,
      origin: { ip: '198.51.100.20', userAgent: 'vitest', deviceId: null, channel: 'web' },
    })
    await login(null)
    await login(null)
    expect(await login(null)).toMatchObject({ kind: 'throttled', newEpisode: true })
    const rows = await countRows(seeded)
    let retries!: Promise<Awaited<ReturnType<typeof login>>[]>
    await whileChainHeadsHeld(seeded.tenant.id, async () => {
      retries = Promise.all([login('raced-while-throttled'), login('raced-while-throttled')])
      retries.catch(() => {})
      await waitingInAppend(2, 'both retries waiting inside the append')
    })
    const answers = await retries
    const eventId = deterministicUuid('login', seeded.tenant.id, 'web', carol.identifier, 'raced-while-throttled')
    expect(answers.map((a) => [a.kind, a.eventId])).toEqual([['throttled', eventId], ['throttled', eventId]])
    expect(answers.map((a) => a.replayed).sort()).toEqual([false, true])
    expect(await countRows(seeded)).toEqual({ logs: rows.logs + 1, outbox: rows.outbox + 1 })
  })

  it('a retry with another password racing a keyed success to the append is recorded as a new failed attempt', async () => {
    const { seeded, carol, login } = await setUp()
    await login('wrong password')
    let success!: ReturnType<typeof login>
    let guess!: ReturnType<typeof login>
    await whileChainHeadsHeld(seeded.tenant.id, async () => {
      // The success waits first, so it appends first; the guess then finds the key's attempt recorded.
      success = login(carol.password, 'raced-success')
      success.catch(() => {})
      await waitingInAppend(1, 'the success waiting inside the append')
      guess = login('a guess', 'raced-success')
      guess.catch(() => {})
      await waitingInAppend(2, 'the guess waiting inside the append')
    })
    const [s, g] = [await success, await guess]
    expect(s).toMatchObject({ kind: 'success', eventId: deterministicUuid('login', seeded.tenant.id, 'web', carol.identifier, 'raced-success'), replayed: false })
    expect(g).toMatchObject({ kind: 'invalid_credentials', replayed: false })
    expect(g.eventId).not.toBe(s.eventId)
    expect(await storedEvents(seeded)).toEqual([
      { event_type: 'login_failed', outcome: 'failure', reason: 'invalid_credentials' },
      { event_type: 'login_success', outcome: 'success', reason: null },
      { event_type: 'lockout_reset', outcome: 'success', reason: 'login_succeeded' },
      { event_type: 'login_failed', outcome: 'failure', reason: 'invalid_credentials' },
    ])
  })

  it('gives up once its states changed under it more times in a row than allowed: a stale snapshot is decided again, within the bound', async () => {
    const { seeded, carol, deps } = await setUp()
    // The attempt's hashing is held after its snapshot was read; meanwhile another attempt fails on the
    // account, so that the held one's lockout snapshot is stale when it appends.
    const staleOnce = async (maxStaleSnapshots: number) => {
      const hasher = heldHasher(deps.hasher)
      const attempt = attemptLogin({ ...deps, maxStaleSnapshots, hasher }, {
        tenant: seeded.tenant, identifier: carol.identifier, password: 'wrong password', idempotencyKey: null,
        origin: { ip: '192.0.2.30', userAgent: 'vitest', deviceId: null, channel: 'web' },
      })
      attempt.catch(() => {})
      await until(async () => hasher.verifications.length > 0, 60_000, 'the attempt hashing (held)')
      await attemptLogin(deps, {
        tenant: seeded.tenant, identifier: carol.identifier, password: 'wrong password', idempotencyKey: null,
        origin: { ip: '192.0.2.31', userAgent: 'vitest', deviceId: null, channel: 'web' },
      })
      hasher.release()
      return attempt
    }
    await expect(staleOnce(0)).rejects.toThrow(/its states changed under it 0 times/)
    expect(await countRows(seeded)).toEqual({ logs: 1, outbox: 1 })
    // One stale snapshot within a bound of one: decided again on the newer state, and recorded.
    expect(await staleOnce(1)).toMatchObject({ kind: 'locked', newLockout: true })
    const [lock] = await db.sql`SELECT failed_login_attempts FROM account_lockouts WHERE tenant_id = ${seeded.tenant.id} AND identifier = ${carol.identifier}`
    expect(lock!.failed_login_attempts).toBe(3)
  })

  it('gives up at a bound it is given: two stale snapshots in a row are one more than a bound of one allows', async () => {
    const { seeded, carol, deps, login } = await setUp()
    await login('wrong password')
    // The attempt gets a client of its own with one connection, whose queries run one after another in the
    // order they are sent. Once its password is hashed (its snapshot read), every reading of its clock sends
    // a change of the account's lockout row, by another writer, ahead of whatever the attempt sends next: each
    // loop of the attempt reads the clock before it appends, so every append finds its snapshot stale.
    const own = createSql(db.url, { max: 1 })
    try {
      const changes: Promise<unknown>[] = []
      let hashed = false
      const clock = () => {
        if (hashed) {
          changes.push(own`UPDATE account_lockouts SET failed_login_attempts = failed_login_attempts + 1 WHERE tenant_id = ${seeded.tenant.id} AND identifier = ${carol.identifier}`.execute())
        }
        return deps.clock()
      }
      const hasher = { ...deps.hasher, verify: async (hash: string, password: string) => {
        const valid = await deps.hasher.verify(hash, password)
        hashed = true
        return valid
      } }
      const attempt = attemptLogin({ ...deps, sql: own, clock, hasher, maxStaleSnapshots: 1 }, {
        tenant: seeded.tenant, identifier: carol.identifier, password: 'wrong password', idempotencyKey: null,
        origin: { ip: '192.0.2.32', userAgent: 'vitest', deviceId: null, channel: 'web' },
      })
      await expect(attempt).rejects.toThrow(/its states changed under it 1 times/)
      await Promise.all(changes)
      expect(changes.length).toBeGreaterThanOrEqual(2)
      expect(await countRows(seeded)).toEqual({ logs: 1, outbox: 1 })
    } finally {
      await own.end()
    }
  })

  it('refuses an attempt at once when the hashing queue is full, and leaves no place taken by attempts answered without hashing', async () => {
    const { seeded, carol, deps } = await setUp()
    const slow = heldHasher(deps.hasher)
    const bounded = createBoundedHasher(slow, { concurrency: 1, queue: 0 })
    const input = (password: string, idempotencyKey: string | null = null) => ({
      tenant: seeded.tenant, identifier: carol.identifier, password, idempotencyKey,
      origin: { ip: '192.0.2.40', userAgent: 'vitest', deviceId: null, channel: 'web' as const },
    })
    const first = attemptLogin({ ...deps, hasher: bounded }, input('wrong password', 'queue-full-1'))
    await until(async () => bounded.pending() === 1, 60_000, 'the first attempt holding the one place')
    await expect(attemptLogin({ ...deps, hasher: bounded }, input('wrong password'))).rejects.toBeInstanceOf(HashQueueFullError)
    slow.release()
    expect(await first).toMatchObject({ kind: 'invalid_credentials', replayed: false })
    expect(bounded.pending()).toBe(0)
    // A replay is answered from the trail, without hashing, and gives its place back.
    const verified = slow.verifications.length
    expect(await attemptLogin({ ...deps, hasher: bounded }, input('wrong password', 'queue-full-1'))).toMatchObject({ kind: 'invalid_credentials', replayed: true })
    expect(bounded.pending()).toBe(0)
    expect(slow.verifications).toHaveLength(verified)
  })

  it("in account mode, failures from an address the owner logged in from lock the account for every address", async () => {
    const { seeded, carol, deps } = await setUp()
    const from = (ip: string, password: string) => attemptLogin(deps, {
      tenant: seeded.tenant, identifier: carol.identifier, password, idempotencyKey: null,
      origin: { ip, userAgent: 'vitest', deviceId: null, channel: 'web' },
    })
    expect(await from('192.0.2.60', carol.password)).toMatchObject({ kind: 'success' })
    for (let i = 0; i < 3; i++) await from('192.0.2.60', 'wrong password')
    // Known or not, an address is no reason to lock per address unless the tenant chose account_ip.
    expect(await from('203.0.113.61', carol.password)).toMatchObject({ kind: 'locked' })
    expect(await from('192.0.2.60', carol.password)).toMatchObject({ kind: 'locked' })
  })

  it('counts the accounts an address failed against over its whole window, not only the last seconds', async () => {
    const { seeded, deps, advance, hasher } = await setUp()
    // Spraying from three accounts on, with a budget of two failures then; one failure a minute.
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 100, sprayFailureBudget: 2, sprayAccounts: 3 } }
    const on = (identifier: string) => attemptLogin(deps, {
      tenant, identifier, password: 'wrong password', idempotencyKey: null,
      origin: { ip: '198.51.100.30', userAgent: 'vitest', deviceId: null, channel: 'web' },
    })
    expect(await on('first@example.test')).toMatchObject({ kind: 'invalid_credentials' })
    advance(60_000)
    expect(await on('second@example.test')).toMatchObject({ kind: 'invalid_credentials' })
    advance(60_000)
    const verified = hasher.verifications.length
    expect(await on('third@example.test')).toMatchObject({ kind: 'throttled', newEpisode: true })
    expect(hasher.verifications).toHaveLength(verified)
    const [episode] = await db.sql`SELECT reason, metadata FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} AND event_type = 'ip_throttled'`
    expect(episode!.reason).toBe('spraying')
    expect(episode!.metadata).toMatchObject({ failure_budget: 2, failed_accounts: 3 })
  })

  it("one address's verifications in flight never hold up another address's, however little budget either has left", async () => {
    const { seeded, deps } = await setUp()
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 2 } }
    const admission = createHashAdmission()
    const from = (ip: string, hasher = deps.hasher) => attemptLogin({ ...deps, hasher, admission }, {
      tenant, identifier: `someone-from-${ip}@example.test`, password: 'wrong password', idempotencyKey: null,
      origin: { ip, userAgent: 'vitest', deviceId: null, channel: 'web' },
    })
    // Each address has one failure of its budget left.
    await from('198.51.100.41')
    await from('198.51.100.42')
    const a = heldHasher(deps.hasher)
    const b = heldHasher(deps.hasher)
    const first = from('198.51.100.41', a)
    await until(async () => a.verifications.length > 0, 60_000, "the first address's verification in flight")
    const second = from('198.51.100.42', b)
    await until(async () => b.verifications.length > 0, 30_000, "the second address's verification in flight beside the first's")
    a.release()
    b.release()
    expect((await Promise.all([first, second])).map((r) => r.kind)).toEqual(['invalid_credentials', 'invalid_credentials'])
  })

  it('gives a throttled attempt the unknown-identifier risk signal only for an identifier that has no account', async () => {
    const { seeded, carol, deps } = await setUp()
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 1 } }
    const on = (identifier: string) => attemptLogin(deps, {
      tenant, identifier, password: 'wrong password', idempotencyKey: null,
      origin: { ip: '198.51.100.50', userAgent: 'vitest', deviceId: null, channel: 'web' },
    })
    await on('nobody@example.test')
    const known = await on(carol.identifier)
    const unknown = await on('nobody-else@example.test')
    expect([known.kind, unknown.kind]).toEqual(['throttled', 'throttled'])
    const signals = async (id: string) => {
      const [row] = await db.sql<{ risk: { signals: string[] } }[]>`SELECT risk FROM auth_logs WHERE id = ${id}`
      return row!.risk.signals.includes('unknown_identifier')
    }
    expect([await signals(known.eventId), await signals(unknown.eventId)]).toEqual([false, true])
  })

  it('records a throttled attempt as refused: its address neither known for the account nor counted as failing against it, the identifier as typed kept', async () => {
    const { seeded, carol, deps } = await setUp()
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 1 } }
    const on = (identifier: string, password = 'wrong password', identifierAsTyped?: string) => attemptLogin(deps, {
      tenant, identifier, password, idempotencyKey: null, ...(identifierAsTyped === undefined ? {} : { identifierAsTyped }),
      origin: { ip: '198.51.100.60', userAgent: 'vitest', deviceId: null, channel: 'web' },
    })
    expect(await on('first@example.test')).toMatchObject({ kind: 'invalid_credentials' })
    const refused = await on(carol.identifier, carol.password, ' CAROL@example.test')
    expect(refused).toMatchObject({ kind: 'throttled', newEpisode: true })
    expect(await on('second@example.test')).toMatchObject({ kind: 'throttled', newEpisode: false })
    const [known] = await db.sql`SELECT count(*)::int AS n FROM account_known_networks WHERE tenant_id = ${seeded.tenant.id}`
    expect(known!.n).toBe(0)
    const [row] = await db.sql<{ failed_accounts: Record<string, string> }[]>`SELECT failed_accounts FROM ip_throttles WHERE tenant_id = ${seeded.tenant.id}`
    expect(Object.keys(row!.failed_accounts)).toEqual(['first@example.test'])
    // Nor does it touch any account's lockout: a throttled sprayer creates no lockout rows for the identifiers it tries.
    const lockouts = await db.sql<{ identifier: string }[]>`SELECT identifier FROM account_lockouts WHERE tenant_id = ${seeded.tenant.id}`
    expect(lockouts.map((l) => l.identifier)).toEqual(['first@example.test'])
    const events = await db.sql<{ event_type: string; reason: string; metadata: Record<string, unknown> }[]>`
      SELECT event_type, reason, metadata FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} AND identifier = ${carol.identifier} ORDER BY event_type`
    expect(events.map((e) => [e.event_type, e.reason, e.metadata.identifier_as_typed, e.metadata.failure_budget])).toEqual([
      ['ip_throttled', 'failure_budget', undefined, 1],
      ['login_failed', 'ip_throttled', ' CAROL@example.test', undefined],
    ])
  })

  it('binds a mobile login\'s token to its device', async () => {
    const { seeded, carol, deps } = await setUp()
    const result = await attemptLogin(deps, {
      tenant: seeded.tenant, identifier: carol.identifier, password: carol.password, idempotencyKey: null,
      origin: { ip: '192.0.2.50', userAgent: 'vitest', deviceId: 'ios-6F2C9A', channel: 'mobile' },
    })
    if (result.kind !== 'success') throw new Error(`expected a success, got ${result.kind}`)
    expect(result.claims.did).toBe('ios-6F2C9A')
    // In the signed token too (its payload, read without verifying: the test's clock is in 2030).
    expect(JSON.parse(Buffer.from(result.token.split('.')[1]!, 'base64url').toString('utf8')).did).toBe('ios-6F2C9A')
  })

  it('an attempt not admitted to hashing looks at the address again first: spent meanwhile, it is refused unhashed', async () => {
    const { seeded, carol, deps, hasher } = await setUp()
    // Three failures per window, two while spraying (three accounts). After failures on two accounts the
    // spraying budget is spent and the address has one failure left: attempts are not admitted to hashing
    // (admission assumes spraying), yet one on an account that failed before is not spraying, so it is
    // verified after all, unless the address's budget ran out in the meantime.
    const tenant = { ...seeded.tenant, defencePolicy: { ...seeded.tenant.defencePolicy, ipFailureBudget: 3, sprayFailureBudget: 2, sprayAccounts: 3 } }
    const admission = createHashAdmission()
    let paused!: () => void
    const reachedPause = new Promise<void>((r) => (paused = r))
    let resume!: () => void
    const resumed = new Promise<void>((r) => (resume = r))
    const pausing: HashAdmission = {
      observe: admission.observe,
      async admit(...args) {
        const ticket = await admission.admit(...args)
        if (ticket === null) {
          paused()
          await resumed
        }
        return ticket
      },
    }
    const login = (identifier: string, via: HashAdmission) =>
      attemptLogin({ ...deps, admission: via }, {
        tenant,
        identifier,
        password: 'wrong password',
        origin: { ip: '198.51.100.9', userAgent: 'vitest', deviceId: null, channel: 'web' },
        idempotencyKey: null,
      })
    expect(await login(carol.identifier, admission)).toMatchObject({ kind: 'invalid_credentials' })
    expect(await login('nobody@example.test', admission)).toMatchObject({ kind: 'invalid_credentials' })

    const waited = login(carol.identifier, pausing)
    await reachedPause
    // Meanwhile another attempt on the same account, not spraying either, spends the last failure.
    expect(await login(carol.identifier, admission)).toMatchObject({ kind: 'invalid_credentials' })
    const verified = hasher.verifications.length
    resume()
    expect(await waited).toMatchObject({ kind: 'throttled', newEpisode: true })
    expect(hasher.verifications).toHaveLength(verified)
  })
})

describe('attemptLogin, when its write is acknowledged only after the request fell due', () => {
  // The attempt's COMMIT is held (a deferred trigger of the test's) while the request's bound passes: its
  // outcome unknown, the attempt settles its request's writes and looks at what was recorded before
  // answering. Each case releases the commit (or fails it) once the settlement waits for it.
  async function heldAttempt<T>(attempt: (userAgent: string) => Promise<T>, end: 'commit' | 'fail'): Promise<T> {
    const prefix = `held-${randomUUID()}-`
    const hold = await holdCommits(db, prefix)
    try {
      const abort = new AbortController()
      const answer = withRequestDeadline(
        { signal: abort.signal, writeBy: new Date(Date.now() + 600_000), writeToken: randomUUID(), writesInFlight: new Map() },
        () => attempt(`${prefix}vitest`),
      )
      answer.catch(() => {})
      await until(hold.holding, 60_000, 'the attempt committing (held)')
      abort.abort()
      await until(async () => (await lockWaits(db, 'advisory')) > 0, 60_000, "the request's writes being settled")
      await (end === 'commit' ? hold.release() : hold.fail())
      return await answer
    } finally {
      await hold.end()
    }
  }

  it('a failure that committed is answered as the failure it was', async () => {
    const { seeded, carol, deps } = await setUp()
    const result = await heldAttempt((userAgent) => attemptLogin(deps, {
      tenant: seeded.tenant, identifier: carol.identifier, password: 'wrong password', idempotencyKey: null,
      origin: { ip: '192.0.2.10', userAgent, deviceId: null, channel: 'web' },
    }), 'commit')
    expect(result).toEqual({ kind: 'invalid_credentials', eventId: expect.any(String), replayed: false })
    expect(await countRows(seeded)).toEqual({ logs: 1, outbox: 1 })
    const [row] = await db.sql`SELECT id FROM auth_logs WHERE tenant_id = ${seeded.tenant.id}`
    expect(row!.id).toBe(result.eventId)
  })

  it('a success that committed is answered with the session stored with it', async () => {
    const { seeded, carol, deps } = await setUp()
    deps.refreshTtlSeconds = 86_400
    const result = await heldAttempt((userAgent) => attemptLogin(deps, {
      tenant: seeded.tenant, identifier: carol.identifier, password: carol.password, idempotencyKey: null,
      origin: { ip: '192.0.2.10', userAgent, deviceId: null, channel: 'web' },
    }), 'commit')
    if (result.kind !== 'success') throw new Error(`expected a success, got ${result.kind}`)
    expect(result).toMatchObject({ replayed: false, opened: { refreshToken: expect.any(String) } })
    const [token] = await db.sql<{ token_hash: Buffer }[]>`SELECT token_hash FROM refresh_tokens WHERE tenant_id = ${seeded.tenant.id}`
    expect(Buffer.from(token!.token_hash).equals(Buffer.from(secretDigest(result.opened!.refreshToken)))).toBe(true)
  })

  it('a keyed attempt that committed is answered as recorded, not as a replay', async () => {
    const { seeded, carol, deps } = await setUp()
    const result = await heldAttempt((userAgent) => attemptLogin(deps, {
      tenant: seeded.tenant, identifier: carol.identifier, password: 'wrong password', idempotencyKey: 'held-keyed',
      origin: { ip: '192.0.2.10', userAgent, deviceId: null, channel: 'web' },
    }), 'commit')
    expect(result).toEqual({ kind: 'invalid_credentials', eventId: deterministicUuid('login', seeded.tenant.id, 'web', carol.identifier, 'held-keyed'), replayed: false })
    expect(await countRows(seeded)).toEqual({ logs: 1, outbox: 1 })
  })

  it("a keyed attempt too late to write, its key's retry recorded meanwhile, answers as that retry was recorded, not with its own decision", async () => {
    // The correct password is held at its hashing while a guess sent with the same key is recorded; by the
    // time it is decided the request's bound has passed, so its write is refused before it begins and it
    // looks at what its key recorded. Answering its own decision would answer a success the trail does not hold.
    const { seeded, carol, deps } = await setUp()
    const hasher = heldHasher(TEST_HASHER)
    const key = 'late-after-a-guess'
    const input = (password: string) => ({
      tenant: seeded.tenant, identifier: carol.identifier, password, idempotencyKey: key,
      origin: { ip: '192.0.2.10', userAgent: 'vitest', deviceId: null, channel: 'web' as const },
    })
    const writeBy = new Date(Date.now() + 1_000)
    const late = withRequestDeadline(
      { signal: new AbortController().signal, writeBy, writeToken: randomUUID(), writesInFlight: new Map() },
      () => attemptLogin({ ...deps, hasher }, input(carol.password)),
    )
    late.catch(() => {})
    await until(async () => hasher.verifications.length === 1, 60_000, 'the correct password held at its hashing')
    const guess = await attemptLogin(deps, input('a guess'))
    expect(guess).toMatchObject({ kind: 'invalid_credentials', replayed: false })
    await until(async () => (await db.sql<{ passed: boolean }[]>`SELECT clock_timestamp() > ${writeBy} AS passed`)[0]!.passed, 60_000, "the request's bound passing")
    hasher.release()
    expect(await late).toEqual({ kind: 'invalid_credentials', eventId: guess.eventId, replayed: false })
    expect(await storedEvents(seeded)).toEqual([{ event_type: 'login_failed', outcome: 'failure', reason: 'invalid_credentials' }])
  })

  it('an attempt whose commit failed is refused as the database being unavailable, nothing written', async () => {
    const { seeded, carol, deps } = await setUp()
    for (const idempotencyKey of [null, 'held-then-failed']) {
      const answer = heldAttempt((userAgent) => attemptLogin(deps, {
        tenant: seeded.tenant, identifier: carol.identifier, password: 'wrong password', idempotencyKey,
        origin: { ip: '192.0.2.10', userAgent, deviceId: null, channel: 'web' },
      }), 'fail')
      await expect(answer).rejects.toBeInstanceOf(RequestDeadlineError)
    }
    expect(await countRows(seeded)).toEqual({ logs: 0, outbox: 0 })
  })
})
