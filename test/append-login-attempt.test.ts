import { describe, expect, it } from 'vitest'
import { uuidv7 } from '../src/core/ids.ts'
import { decideThrottle, spendFailure, type NetworkKey } from '../src/core/ip-throttle.ts'
import { EMPTY_LOCKOUT_STATE, type LockoutState } from '../src/core/lockout-policy.ts'
import { DuplicateEventError, recordEventsChecked, type EventDraft } from '../src/audit/record-events.ts'
import { readThrottleSnapshot, type ThrottleSnapshot } from '../src/db/ip-throttles.ts'
import { useTestDatabase } from './support/database.ts'
import { useSeededTenant } from './support/test-app.ts'
import { until } from './support/until.ts'

// append_login_attempt() writes a network's throttle row only when the attempt changes it, and writes it
// before the events are appended: these check that an attempt whose events are not appended leaves the
// network as it was, and that a refusal which changes nothing neither waits for nor takes the row's lock.
const db = useTestDatabase('append_login_attempt')
const acme = useSeededTenant(db, {
  slug: 'acme',
  defencePolicy: { ip_failure_budget: 2, spray_failure_budget: 2 },
  users: [{ identifier: 'alice@acme.test' }, { identifier: 'bob@acme.test' }],
})

const since = (now: Date) => new Date(now.getTime() - acme.tenant.defencePolicy.ipWindowSeconds * 1000)
const origin = (ip: string) => ({ ip, userAgent: 'vitest', deviceId: null, channel: 'web' as const })

/** A failed credential check from `ip` on `identifier`, recorded as the login records it, against the states given. */
function recordFailure(ip: string, network: NetworkKey, identifier: string, now: Date, throttle: ThrottleSnapshot, lockoutExpected: LockoutState, id = uuidv7(now.getTime())) {
  const drafts: EventDraft[] = [
    { id, eventType: 'login_failed', outcome: 'failure', reason: 'invalid_credentials', origin: origin(ip), identifier, metadata: { failed_attempts: 1, locked_until: null } },
  ]
  const next: LockoutState = { ...lockoutExpected, failedLoginAttempts: lockoutExpected.failedLoginAttempts + 1, windowStartedAt: lockoutExpected.windowStartedAt ?? now, lastFailedAt: now }
  return recordEventsChecked(
    db.sql,
    acme.tenant,
    drafts,
    {
      now,
      lockout: { identifier, userId: null, state: next },
      defence: {
        network,
        identifier,
        rememberNetwork: false,
        throttle: { expected: throttle, since: since(now), next: spendFailure(throttle.state, acme.tenant.defencePolicy, now), failed: true },
      },
    },
    lockoutExpected,
  )
}

/** A refused attempt from `ip`, recorded as the login records it (no lockout, no failure spent). */
function recordRefusal(ip: string, network: NetworkKey, identifier: string, now: Date, throttle: ThrottleSnapshot) {
  const decision = decideThrottle(throttle.state, acme.tenant.defencePolicy, throttle.otherFailedAccounts + 1, now)
  if (!decision.throttled) throw new Error('expected the address to be throttled')
  const drafts: EventDraft[] = [
    {
      eventType: 'login_failed',
      outcome: 'failure',
      reason: 'ip_throttled',
      origin: origin(ip),
      identifier,
      metadata: { network, throttled_until: decision.throttledUntil.toISOString() },
    },
  ]
  return recordEventsChecked(db.sql, acme.tenant, drafts, {
    now,
    defence: { network, identifier, rememberNetwork: false, throttle: { expected: throttle, since: since(now), next: decision.next, failed: false } },
  })
}

async function networkRows(network: NetworkKey) {
  const throttles = await db.sql`SELECT budget_full_at, spray_budget_full_at, episode_started_at, episode_count, updated_at, xmin::text, xmax::text
                                 FROM ip_throttles WHERE tenant_id = ${acme.tenant.id} AND network = ${network}`
  const failed = await db.sql`SELECT identifier, last_failed_at FROM ip_failed_accounts
                              WHERE tenant_id = ${acme.tenant.id} AND network = ${network} ORDER BY identifier`
  return { throttles: [...throttles], failed: [...failed] }
}

const stale: LockoutState = { ...EMPTY_LOCKOUT_STATE, failedLoginAttempts: 7 }

describe('append_login_attempt: the network state an attempt writes', () => {
  it('is not kept when the events are not appended: a stale lockout or a duplicate leaves the network as it was', async () => {
    const ip = '203.0.113.21'
    const network = '203.0.113.21/32'
    const t0 = new Date()
    const empty = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'alice@acme.test', since(t0))

    // A network never seen: the stale attempt would have created its row; nothing remains.
    expect((await recordFailure(ip, network, 'alice@acme.test', t0, empty, stale)).kind).toBe('stale')
    expect(await networkRows(network)).toEqual({ throttles: [], failed: [] })

    // The first failure is recorded, and creates the row with its state.
    const firstId = uuidv7(t0.getTime())
    expect((await recordFailure(ip, network, 'alice@acme.test', t0, empty, EMPTY_LOCKOUT_STATE, firstId)).kind).toBe('recorded')
    const before = await networkRows(network)
    expect(before.throttles).toHaveLength(1)
    expect(before.failed.map((r) => r.identifier)).toEqual(['alice@acme.test'])

    // A later failure on the same account and one on another, both with a stale lockout: the row's state,
    // alice's last failure and bob's absence are as before.
    const t1 = new Date(t0.getTime() + 1000)
    const afterFirst = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'alice@acme.test', since(t1))
    expect((await recordFailure(ip, network, 'alice@acme.test', t1, afterFirst, stale)).kind).toBe('stale')
    const forBob = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'bob@acme.test', since(t1))
    expect((await recordFailure(ip, network, 'bob@acme.test', t1, forBob, stale)).kind).toBe('stale')
    const after = await networkRows(network)
    expect({ ...after, throttles: after.throttles.map(({ xmin, xmax, ...state }) => state) }).toEqual({
      ...before,
      throttles: before.throttles.map(({ xmin, xmax, ...state }) => state),
    })

    // A retry of the recorded attempt (its event id exists): a duplicate, and the network is as before.
    await expect(recordFailure(ip, network, 'bob@acme.test', t1, forBob, EMPTY_LOCKOUT_STATE, firstId)).rejects.toBeInstanceOf(DuplicateEventError)
    const afterDuplicate = await networkRows(network)
    expect(afterDuplicate.failed).toEqual(before.failed)
    expect(afterDuplicate.throttles.map(({ xmin, xmax, ...state }) => state)).toEqual(before.throttles.map(({ xmin, xmax, ...state }) => state))

    // And the budget is still exact: one failure spent of two, so bob's failure is the second and last.
    expect((await recordFailure(ip, network, 'bob@acme.test', t1, forBob, EMPTY_LOCKOUT_STATE)).kind).toBe('recorded')
    const spent = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'alice@acme.test', since(t1))
    expect(decideThrottle(spent.state, acme.tenant.defencePolicy, spent.otherFailedAccounts + 1, t1).throttled).toBe(true)
  })

  it('trusts the accounts an attempt counted only while none has aged out of the window since: else counts them again under the lock', async () => {
    const ip = '203.0.113.23'
    const network = '203.0.113.23/32'
    const window = acme.tenant.defencePolicy.ipWindowSeconds * 1000
    const t0 = new Date()
    const empty = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'erin@acme.test', since(t0))
    expect((await recordFailure(ip, network, 'erin@acme.test', t0, empty, EMPTY_LOCKOUT_STATE)).kind).toBe('recorded')

    // Read a millisecond before erin's failure leaves the window, the snapshot counts her; decided when it
    // has left, the attempt's count is not the row's any more, though the row is the version read.
    const snapshot = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'frank@acme.test', since(new Date(t0.getTime() + window - 1)))
    expect(snapshot.otherFailedAccounts).toBe(1)
    const answer = await recordFailure(ip, network, 'frank@acme.test', new Date(t0.getTime() + window), snapshot, EMPTY_LOCKOUT_STATE)
    expect(answer.kind === 'stale_defence' && answer.defence.throttle?.otherFailedAccounts).toBe(0)
    expect((await networkRows(network)).failed.map((r) => r.identifier)).toEqual(['erin@acme.test'])
  })

  it('is neither locked nor written by a refusal that changes nothing: it is answered while another attempt holds the row', async () => {
    const ip = '203.0.113.22'
    const network = '203.0.113.22/32'
    // Accounts of their own, whose lockout state is still empty (no users needed: unknown identifiers fail alike).
    const t0 = new Date()
    for (const identifier of ['carol@acme.test', 'dave@acme.test']) {
      const snapshot = await readThrottleSnapshot(db.sql, acme.tenant.id, network, identifier, since(t0))
      expect((await recordFailure(ip, network, identifier, t0, snapshot, EMPTY_LOCKOUT_STATE)).kind).toBe('recorded')
    }
    const snapshot = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'carol@acme.test', since(t0))
    // The refusal that begins the episode changes the state, and writes it.
    expect((await recordRefusal(ip, network, 'carol@acme.test', t0, snapshot)).kind).toBe('recorded')
    const inEpisode = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'dave@acme.test', since(t0))
    expect(inEpisode.state.episodeStartedAt).not.toBeNull()
    const before = await networkRows(network)

    // Another transaction holds the network's row lock (as an attempt changing its state would) while a
    // refusal inside the episode is recorded: it does not wait for it.
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    let locked = false
    const holder = db.sql.begin(async (tx) => {
      await tx`SELECT 1 FROM ip_throttles WHERE tenant_id = ${acme.tenant.id} AND network = ${network} FOR UPDATE`
      locked = true
      await released
    })
    try {
      await until(() => locked, 10_000, 'the other transaction to hold the row lock')
      const refusal = recordRefusal(ip, network, 'dave@acme.test', new Date(t0.getTime() + 10), inEpisode)
      let timer: ReturnType<typeof setTimeout> | undefined
      const deadline = new Promise((resolve) => (timer = setTimeout(resolve, 30_000, 'still waiting for the row lock')))
      const answered = await Promise.race([refusal.then((r) => r.kind), deadline]).finally(() => clearTimeout(timer))
      expect(answered).toBe('recorded')
    } finally {
      release()
      await holder
    }
    // Neither the row nor the failed accounts were written (nor the row locked by the refusal: its xmax is
    // the holder's, which took it after the episode's write).
    const after = await networkRows(network)
    expect(after.failed).toEqual(before.failed)
    expect(after.throttles.map(({ xmax, ...row }) => row)).toEqual(before.throttles.map(({ xmax, ...row }) => row))
    const [events] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND reason = 'ip_throttled' AND metadata->>'network' = ${network}`
    expect(events!.n).toBe(2)
  })
})
