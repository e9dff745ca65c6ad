import type { AuthEventOf, RiskEvaluation } from '../core/auth-event.ts'
import type { LockoutMode } from '../core/defence-policy.ts'
import { deterministicUuid, uuidv7 } from '../core/ids.ts'
import { admissibleVerifications, decideThrottle, isAllowListed, networkOf, spendFailure, type NetworkKey } from '../core/ip-throttle.ts'
import { decideLogin, isLocked, type LockoutEffect, type LockoutState } from '../core/lockout-policy.ts'
import type { AlreadyRecorded } from '../audit/record-in-transaction.ts'
import { isEventRecorded, withKnownOutcome } from '../audit/unknown-write-outcome.ts'
import { DuplicateEventError, recordEventsChecked, type EventDraft, type RecordedOrStale, type RequestOrigin } from '../audit/record-events.ts'
import { readAccountNetwork } from '../db/account-networks.ts'
import type { Sql } from '../db/client.ts'
import { readThrottleSnapshot, type ThrottleSnapshot } from '../db/ip-throttles.ts'
import type { Tenant } from '../db/tenants.ts'
import { readLoginSnapshot, type LoginAccount } from './find-login-account.ts'
import { HashQueueFullError, reserveHashing, type HashReservation } from './bounded-hasher.ts'
import { createHashAdmission, type AdmissionTicket, type HashAdmission } from './hash-admission.ts'
import { evaluateLoginRisk } from './login-risk.ts'
import { prepareSession, type OpenedSession } from './open-session.ts'
import type { PasswordHasher } from './password-hasher.ts'
import type { SessionClaims, TokenService } from './tokens.ts'

export interface LoginDeps {
  sql: Sql
  hasher: PasswordHasher
  tokens: TokenService
  clock: () => Date
  /** A real argon2id hash of a random secret: unknown identifiers are verified against it. */
  dummyHash: string
  tokenTtlSeconds: number
  /** Bounds verifications in flight per address (default: one per process). */
  admission?: HashAdmission
  /**
   * When given, a successful attempt opens its session (lasting this long) in the transaction that records
   * it, and the result carries it: an attempt that fails after the password was checked leaves neither.
   */
  refreshTtlSeconds?: number
  /** Stale snapshots in a row after which an attempt gives up (default MAX_STALE_SNAPSHOTS). */
  maxStaleSnapshots?: number
}

const processAdmission = createHashAdmission()

export interface LoginInput {
  tenant: Tenant
  /** Already normalised. */
  identifier: string
  /** The identifier as the client sent it, before normalisation: recorded when it differs. */
  identifierAsTyped?: string
  password: string
  origin: RequestOrigin
  idempotencyKey: string | null
}

export type LoginResult =
  /** `opened`: the session stored with the attempt (absent on a replay, or without refreshTtlSeconds). */
  | { kind: 'success'; token: string; claims: SessionClaims; eventId: string; replayed: boolean; opened?: OpenedSession }
  | { kind: 'invalid_credentials'; eventId: string; replayed: boolean }
  /** `newLockout`: this attempt triggered the lockout (it wrote account_locked). */
  | { kind: 'locked'; retryAfterSeconds: number; eventId: string; replayed: boolean; newLockout: boolean }
  /** The address spent its failure budget; `newEpisode`: this attempt recorded ip_throttled. */
  | { kind: 'throttled'; retryAfterSeconds: number; eventId: string; replayed: boolean; newEpisode: boolean }

/**
 * Where an attempt comes from, as the tenant's defence policy sees it: the network it is counted in,
 * whether that network is allow-listed (never throttled), and which lockout state binds it: the
 * account's own, or (lockout mode account_ip, from a known or allow-listed network) the account's
 * state from that network alone.
 */
interface AttemptAddress {
  network: NetworkKey
  allowListed: boolean
  lockoutScope: 'account' | 'network'
  lockoutMode: LockoutMode
}

/** What the attempt decides on, read without a lock (the append function re-checks each). */
interface AttemptSnapshots {
  lockout: LockoutState
  /** Null for an allow-listed network. */
  throttle: ThrottleSnapshot | null
}

/**
 * One login attempt, in explicit steps:
 * 0. A place in the password-hashing queue is reserved before anything is read: when the queue is full
 *    the attempt is refused at once (HashQueueFullError; the route audits the refusal), without waiting
 *    for the database. The place is given back as soon as the attempt knows it will not hash (a locked
 *    account, a throttled address, a replay), and always when it ends, however it ends.
 * 1. A retry (same Idempotency-Key) of an attempt already recorded gets that attempt's answer and writes
 *    nothing (replayRecordedAttempt).
 * 2. The password is verified outside any transaction (argon2id takes milliseconds and must not hold a
 *    lock); a locked account or a throttled address is answered without hashing, so an attack on it
 *    costs only the audit. While an address's budget is nearly spent, no more of its attempts are
 *    verified at once than the budget has left (HashAdmission).
 * 3. The pure throttle and lockout policy decide on the states read in step 1, and one call to the
 *    database's append function re-checks those states under their row locks and records the events, the
 *    new states and the outbox rows together (recordLoginAttempt), or answers with the newer states to
 *    decide on again. If the lock or throttle had ended meanwhile, the password is verified after all and
 *    the attempt decided again.
 * 4. If a concurrent retry with the same key was recorded first, the answer is that attempt's (step 1).
 */
export async function attemptLogin(deps: LoginDeps, input: LoginInput): Promise<LoginResult> {
  const hashing = reserveHashing(deps.hasher)
  if (hashing === null) throw new HashQueueFullError(1)
  try {
    return await attemptReserved(deps, input, hashing)
  } finally {
    hashing.release()
  }
}

async function attemptReserved(deps: LoginDeps, input: LoginInput, hashing: HashReservation): Promise<LoginResult> {
  const { tenant, identifier, origin } = input
  const policy = tenant.defencePolicy
  const admission = deps.admission ?? processAdmission
  const network = networkOf(origin.ip)
  const allowListed = isAllowListed(origin.ip, policy.allowList)
  const windowStart = () => new Date(deps.clock().getTime() - policy.ipWindowSeconds * 1000)
  const knownSince = new Date(deps.clock().getTime() - policy.knownAddressDays * 86_400_000)
  const observedAt = admission.observe()
  const [{ account, throttle }, accountNetwork] = await Promise.all([
    readLoginSnapshot(deps.sql, tenant.id, identifier, allowListed ? null : { network, since: windowStart() }),
    policy.lockoutMode === 'account_ip' ? readAccountNetwork(deps.sql, tenant.id, identifier, network, knownSince) : null,
  ])
  const address: AttemptAddress = {
    network,
    allowListed,
    lockoutScope: accountNetwork && (allowListed || accountNetwork.known) ? 'network' : 'account',
    lockoutMode: policy.lockoutMode,
  }
  const snapshots: AttemptSnapshots = { lockout: address.lockoutScope === 'network' ? accountNetwork!.lockout : account.lockout, throttle }
  const keyedId = input.idempotencyKey ? deterministicUuid('login', tenant.id, origin.channel, identifier, input.idempotencyKey) : null

  let attemptId = keyedId ?? uuidv7(deps.clock().getTime())
  let passwordValid: boolean | null = null
  if (keyedId) {
    const replay = await replayRecordedAttempt(deps, hashing, input, account, keyedId)
    if (replay.kind === 'replayed') return replay.result
    if (replay.kind === 'not_replayable') {
      // A success replays only to its password: this is a new attempt, with a fresh id and the password known wrong.
      attemptId = uuidv7(deps.clock().getTime())
      passwordValid = false
    }
  }

  let ticket: AdmissionTicket | null = null
  try {
    if (passwordValid === null && !isLocked(snapshots.lockout, deps.clock())) {
      if (throttle === null) {
        passwordValid = await verifyPassword(deps, hashing, account, input.password)
      } else {
        const remainingNow = (snapshot: ThrottleSnapshot) => admissibleVerifications(snapshot.state, policy, deps.clock())
        // Waiting for the address's verifications in flight is no hashing: the place goes back meanwhile.
        ticket = await admission.admit(
          `${tenant.id} ${network}`,
          remainingNow(throttle),
          observedAt,
          async () => {
            snapshots.throttle = await readThrottleSnapshot(deps.sql, tenant.id, network, identifier, windowStart())
            return remainingNow(snapshots.throttle)
          },
          hashing.release,
        )
        // No ticket: the address's budget is spent as far as the snapshot shows; the append function decides.
        if (ticket) passwordValid = await verifyPassword(deps, hashing, account, input.password)
      }
    }
    // Hashed, or not to hash (locked, throttled, known wrong): the place is free for the next attempt.
    hashing.release()
    const pending: PendingAnswer = {}
    // Whether a write whose outcome is unknown (its connection lost, or still in flight when the request's
    // bound passed) was recorded is found out before answering: a 503 never stands for a recorded attempt.
    const recorded = await withKnownOutcome(
      deps.sql,
      () => recordLoginAttempt(deps, hashing, input, account, address, snapshots, attemptId, passwordValid, pending),
      () => answerIfRecorded(deps, hashing, input, account, attemptId, attemptId === keyedId, pending),
    )
    if (recorded.kind !== 'already_recorded') return recorded
  } finally {
    ticket?.release()
  }

  // Only a keyed id can have been recorded already: answer as that attempt was answered.
  const replay = await replayRecordedAttempt(deps, hashing, input, account, attemptId)
  if (replay.kind === 'replayed') return replay.result
  if (replay.kind === 'not_recorded') throw new Error(`login attempt ${attemptId} conflicted with an event that cannot be found`)
  const fresh = await recordLoginAttempt(deps, hashing, input, account, address, snapshots, uuidv7(deps.clock().getTime()), false)
  if (fresh.kind === 'already_recorded') throw new Error('a fresh attempt id was recorded already')
  return fresh
}

/**
 * What an attempt whose write's outcome was unknown answers once its writes are settled: as recorded, or
 * null when nothing was. An attempt keyed by an Idempotency-Key may find a concurrent retry's row under its
 * id: it is answered as a retry would be.
 */
async function answerIfRecorded(deps: LoginDeps, hashing: HashReservation, input: LoginInput, account: LoginAccount, attemptId: string, keyed: boolean, pending: PendingAnswer): Promise<LoginResult | null> {
  if (keyed || pending.result === undefined) {
    const replay = await replayRecordedAttempt(deps, hashing, input, account, attemptId)
    return replay.kind === 'replayed' ? { ...replay.result, replayed: false } : null
  }
  if (!(await isEventRecorded(deps.sql, input.tenant.id, attemptId))) return null
  // A success committed with its session: the refresh token stored with it is the one to give.
  return pending.result.kind === 'success' && pending.opened ? { ...pending.result, opened: pending.opened } : pending.result
}

/**
 * What an attempt answers should its write's acknowledgement be lost: the answer it gives once recorded
 * (for an attempt not keyed by an Idempotency-Key, whose id only it can have recorded) and the session a
 * success stores with its event.
 */
interface PendingAnswer {
  result?: LoginResult
  opened?: OpenedSession
}

async function verifyPassword(deps: LoginDeps, hashing: HashReservation, account: LoginAccount, password: string): Promise<boolean> {
  if (account.user === null) {
    await hashing.verify(deps.dummyHash, password)
    return false
  }
  return hashing.verify(account.user.passwordHash, password)
}

/**
 * Stale snapshots in a row after which an attempt gives up. Each one means another attempt on the account
 * or from the address committed; from one address only failures change the state (a throttled attempt
 * does not, but for the one that begins an episode), so a burst is bounded by the address's budget.
 */
const MAX_STALE_SNAPSHOTS = 1000

/**
 * Records the attempt in one round trip. The pure throttle decides on the address's state, then the pure
 * policy on the lockout state, both as the attempt read them; the append function re-checks each under its
 * row lock and, when another attempt changed one meanwhile, writes nothing and answers with the states it
 * found, on which the attempt is decided again. A throttled attempt is recorded without touching any
 * lockout (it checked nothing). When the password was skipped because the account looked locked or the
 * address throttled (`passwordValid` null) and neither turns out to be so, the password is verified
 * (outside any transaction) and the attempt decided again. An attempt id recorded already (a concurrent
 * retry) answers `already_recorded`.
 */
async function recordLoginAttempt(
  deps: LoginDeps,
  hashing: HashReservation,
  input: LoginInput,
  account: LoginAccount,
  address: AttemptAddress,
  snapshots: AttemptSnapshots,
  attemptId: string,
  passwordValid: boolean | null,
  pending: PendingAnswer = {},
): Promise<LoginResult | AlreadyRecorded> {
  const { tenant, identifier, origin } = input
  const policy = tenant.defencePolicy
  const user = account.user
  const byNetwork = address.lockoutScope === 'network'
  let { lockout: state, throttle } = snapshots
  let valid = passwordValid
  let throttleReread = false
  for (let stale = 0; ; ) {
    const now = deps.clock()
    const since = new Date(now.getTime() - policy.ipWindowSeconds * 1000)
    const about = { origin, organisationId: user?.organisationId ?? null, userId: user?.id ?? null, identifier }
    const typed = input.identifierAsTyped !== undefined && input.identifierAsTyped !== identifier ? input.identifierAsTyped : undefined
    let opened: OpenedSession | undefined
    const record = async (
      drafts: EventDraft[],
      write: { lockout: boolean; next: LockoutState; succeeded: boolean; throttle?: { next: ReturnType<typeof spendFailure>; failed: boolean } },
      session?: SessionClaims,
    ) => {
      const ttlSeconds = deps.refreshTtlSeconds
      // The session is stored in the very call that records the success, and only if it is recorded.
      const prepared =
        session && ttlSeconds !== undefined
          ? prepareSession({ claims: session, channel: origin.channel === 'mobile' ? 'mobile' : 'web', deviceId: origin.deviceId, now, ttlSeconds })
          : undefined
      pending.opened = prepared?.opened
      let recorded: RecordedOrStale
      try {
        recorded = await recordEventsChecked(
          deps.sql,
          tenant,
          drafts,
          {
            now,
            ...(prepared && { openSession: prepared.opening }),
            ...(write.lockout && !byNetwork && { lockout: { identifier, userId: user?.id ?? null, state: write.next } }),
            defence: {
              network: address.network,
              identifier,
              rememberNetwork: write.succeeded,
              ...(throttle && write.throttle && { throttle: { expected: throttle, since, ...write.throttle } }),
              ...(write.lockout && byNetwork && { networkLockout: { expected: state, next: write.next } }),
            },
          },
          write.lockout && !byNetwork ? state : undefined,
        )
      } catch (error) {
        if (error instanceof DuplicateEventError) return { kind: 'already_recorded' } as const
        throw error
      }
      if (recorded.kind === 'recorded') opened = prepared?.opened
      return recorded
    }
    const retry = (recorded: Exclude<RecordedOrStale, { kind: 'recorded' }>) => {
      const bound = deps.maxStaleSnapshots ?? MAX_STALE_SNAPSHOTS
      if (++stale > bound) throw new Error(`login attempt ${attemptId}: its states changed under it ${bound} times`)
      if (recorded.kind === 'stale') state = recorded.lockout
      else {
        throttle = recorded.defence.throttle ?? throttle
        state = recorded.defence.networkLockout ?? state
      }
    }

    let allowed = null
    if (throttle) {
      const failedAccounts = throttle.otherFailedAccounts + 1
      const decision = decideThrottle(throttle.state, policy, failedAccounts, now)
      if (decision.throttled) {
        const risk = evaluateLoginRisk({ userExists: user !== null, lockout: account.lockout, userAgent: origin.userAgent })
        const drafts = throttledDrafts(attemptId, { ...about, risk }, address.network, decision, policy, failedAccounts, typed)
        const result: LoginResult = { kind: 'throttled', retryAfterSeconds: decision.retryAfterSeconds, eventId: attemptId, replayed: false, newEpisode: decision.startsEpisode }
        pending.result = result
        const recorded = await record(drafts, { lockout: false, next: state, succeeded: false, throttle: { next: decision.next, failed: false } })
        if (recorded.kind === 'already_recorded') return recorded
        if (recorded.kind !== 'recorded') {
          retry(recorded)
          continue
        }
        return result
      }
      allowed = decision.next
    }

    const decision = decideLogin(state, tenant.lockoutPolicy, valid, now)
    if (decision.result === 'verify_required') {
      // Skipped because the address looked throttled: look again before hashing after all.
      if (throttle && !throttleReread) {
        throttle = await readThrottleSnapshot(deps.sql, tenant.id, address.network, identifier, since)
        throttleReread = true
        continue
      }
      valid = await verifyPassword(deps, hashing, account, input.password)
      hashing.release()
      continue
    }

    const risk = evaluateLoginRisk({ userExists: user !== null, lockout: state, userAgent: origin.userAgent })
    const session = decision.result === 'success' && user ? await issueSession(deps, tenant, user, attemptId, now, origin.deviceId) : null
    const lockout = { mode: address.lockoutMode, network: byNetwork ? address.network : null }
    const drafts = decision.effects.map((effect) => draftOfEffect(effect, attemptId, { ...about, risk }, lockout, session?.claims, typed))
    const failed = decision.result !== 'success'
    const result: LoginResult =
      decision.result === 'success'
        ? { kind: 'success', token: session!.token, claims: session!.claims, eventId: attemptId, replayed: false }
        : decision.result === 'locked'
          ? { kind: 'locked', retryAfterSeconds: decision.retryAfterSeconds, eventId: attemptId, replayed: false, newLockout: decision.effects.some((e) => e.type === 'account_locked') }
          : { kind: 'invalid_credentials', eventId: attemptId, replayed: false }
    pending.result = result
    const recorded = await record(
      drafts,
      {
        lockout: true,
        next: decision.next,
        succeeded: decision.result === 'success' && user !== null,
        ...(allowed && { throttle: { next: failed ? spendFailure(allowed, policy, now) : allowed, failed } }),
      },
      session?.claims,
    )
    if (recorded.kind === 'already_recorded') return recorded
    if (recorded.kind !== 'recorded') {
      retry(recorded)
      continue
    }

    return result.kind === 'success' && opened ? { ...result, opened } : result
  }
}

/** A throttled attempt's events: its own login_failed and, when it begins the episode, ip_throttled. */
function throttledDrafts(
  attemptId: string,
  about: { origin: RequestOrigin; organisationId: string | null; userId: string | null; identifier: string; risk: RiskEvaluation },
  network: NetworkKey,
  decision: Extract<ReturnType<typeof decideThrottle>, { throttled: true }>,
  policy: Tenant['defencePolicy'],
  failedAccounts: number,
  identifierAsTyped: string | undefined,
): EventDraft[] {
  const throttledUntil = decision.throttledUntil.toISOString()
  const typed = identifierAsTyped === undefined ? {} : { identifier_as_typed: identifierAsTyped }
  const drafts: EventDraft[] = [
    { ...about, id: attemptId, eventType: 'login_failed', outcome: 'failure', reason: 'ip_throttled', metadata: { network, throttled_until: throttledUntil, ...typed } },
  ]
  if (decision.startsEpisode) {
    drafts.push({
      ...about,
      // The address's event, in the chain of the attempt that began the episode; it concerns no account.
      userId: null,
      organisationId: null,
      id: deterministicUuid(attemptId, 'ip_throttled', decision.reason),
      eventType: 'ip_throttled',
      outcome: 'failure',
      reason: decision.reason,
      metadata: {
        network,
        throttled_until: throttledUntil,
        failure_budget: decision.reason === 'spraying' ? policy.sprayFailureBudget : policy.ipFailureBudget,
        window_seconds: policy.ipWindowSeconds,
        failed_accounts: failedAccounts,
      },
    })
  }
  return drafts
}

async function issueSession(
  deps: LoginDeps,
  tenant: Tenant,
  user: NonNullable<LoginAccount['user']>,
  eventId: string,
  now: Date,
  deviceId: string | null,
): Promise<{ token: string; claims: SessionClaims }> {
  const iat = Math.floor(now.getTime() / 1000)
  // The jti is derived from the event id: a replayed request re-issues the very same token.
  const claims: Omit<SessionClaims, 'iss'> = {
    sub: user.id,
    tid: tenant.id,
    org: user.organisationId,
    role: user.role,
    jti: deterministicUuid('jti', eventId),
    // The session (stored by openSession once the login is recorded) is derived from the event too.
    sid: deterministicUuid('sid', eventId),
    ...(deviceId ? { did: deviceId } : {}),
    iat,
    exp: iat + deps.tokenTtlSeconds,
  }
  const token = await deps.tokens.issue(claims)
  return { token, claims: { ...claims, iss: deps.tokens.issuer } }
}

/**
 * The event a lockout effect is recorded as. The attempt's own event (login_failed or login_success) has
 * the attempt's id; the others derive theirs from it, so a retried request maps to the very same events.
 */
function draftOfEffect(
  effect: LockoutEffect,
  attemptId: string,
  about: { origin: RequestOrigin; organisationId: string | null; userId: string | null; identifier: string; risk: RiskEvaluation },
  lockout: { mode: LockoutMode; network: NetworkKey | null },
  claims: SessionClaims | undefined,
  identifierAsTyped: string | undefined,
): EventDraft {
  const typed = identifierAsTyped === undefined ? {} : { identifier_as_typed: identifierAsTyped }
  const derivedId = () => deterministicUuid(attemptId, effect.type, 'reason' in effect ? effect.reason : '')
  switch (effect.type) {
    case 'login_failed':
      return { ...about, id: attemptId, eventType: 'login_failed', outcome: 'failure', reason: effect.reason, metadata: { failed_attempts: effect.failures, locked_until: effect.lockedUntil?.toISOString() ?? null, ...typed } }
    case 'login_success':
      return { ...about, id: attemptId, eventType: 'login_success', outcome: 'success', tokenJti: claims!.jti, metadata: { token_expires_at: new Date(claims!.exp * 1000).toISOString(), ...typed } }
    case 'account_locked':
      return {
        ...about,
        id: derivedId(),
        eventType: 'account_locked',
        outcome: 'failure',
        reason: effect.reason,
        metadata: {
          failed_attempts: effect.failures,
          locked_until: effect.lockedUntil.toISOString(),
          lockout_count: effect.lockoutCount,
          lock_duration_seconds: effect.durationSeconds,
          lockout_mode: lockout.mode,
          ...(lockout.network === null ? {} : { network: lockout.network }),
        },
      }
    case 'lockout_reset':
      return {
        ...about,
        id: derivedId(),
        eventType: 'lockout_reset',
        outcome: 'success',
        reason: effect.reason,
        metadata: { previous_failed_attempts: effect.previousFailures, lockout_count: effect.lockoutCount },
      }
  }
}

/** The attempt's own event, as a retry finds it. */
type PriorAttemptRow = Pick<AuthEventOf<'login_failed' | 'login_success'>, 'event_type' | 'metadata'> & { occurred_at: Date }

type Replay = { kind: 'replayed'; result: LoginResult } | { kind: 'not_recorded' } | { kind: 'not_replayable' }

/**
 * A request retried with the same Idempotency-Key gets the first attempt's answer and writes nothing.
 * A success is replayed only to a caller who presents the same password (the very same token is
 * re-signed from the stored jti and times); to anyone else it is `not_replayable`, a new attempt.
 */
async function replayRecordedAttempt(deps: LoginDeps, hashing: HashReservation, input: LoginInput, account: LoginAccount, attemptId: string): Promise<Replay> {
  const [prior] = await deps.sql<PriorAttemptRow[]>`
    SELECT event_type, occurred_at, metadata FROM auth_logs
    WHERE tenant_id = ${input.tenant.id} AND id = ${attemptId}`
  if (!prior) return { kind: 'not_recorded' }
  if (prior.event_type === 'login_success' && account.user) {
    const same = await hashing.verify(account.user.passwordHash, input.password)
    hashing.release()
    if (!same) return { kind: 'not_replayable' }
    const session = await issueSession(deps, input.tenant, account.user, attemptId, prior.occurred_at, input.origin.deviceId)
    return { kind: 'replayed', result: { kind: 'success', ...session, eventId: attemptId, replayed: true } }
  }
  const now = deps.clock()
  if ('throttled_until' in prior.metadata) {
    const throttledUntil = new Date(prior.metadata.throttled_until)
    if (throttledUntil > now) {
      const retryAfterSeconds = Math.max(1, Math.ceil((throttledUntil.getTime() - now.getTime()) / 1000))
      return { kind: 'replayed', result: { kind: 'throttled', retryAfterSeconds, eventId: attemptId, replayed: true, newEpisode: false } }
    }
  }
  const lockedUntil = 'locked_until' in prior.metadata && prior.metadata.locked_until ? new Date(prior.metadata.locked_until) : null
  if (lockedUntil && lockedUntil > now) {
    const retryAfterSeconds = Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000))
    return { kind: 'replayed', result: { kind: 'locked', retryAfterSeconds, eventId: attemptId, replayed: true, newLockout: false } }
  }
  return { kind: 'replayed', result: { kind: 'invalid_credentials', eventId: attemptId, replayed: true } }
}
