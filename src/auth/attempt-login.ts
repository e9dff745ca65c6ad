import type { AuthEventOf, RiskEvaluation } from '../core/auth-event.ts'
import { deterministicUuid, uuidv7 } from '../core/ids.ts'
import { decideLogin, isLocked, type LockoutEffect } from '../core/lockout-policy.ts'
import type { AlreadyRecorded } from '../audit/record-in-transaction.ts'
import { DuplicateEventError, recordEventsChecked, type EventDraft, type RecordedOrStale, type RequestOrigin } from '../audit/record-events.ts'
import type { Sql } from '../db/client.ts'
import type { Tenant } from '../db/tenants.ts'
import { findLoginAccount, type LoginAccount } from './find-login-account.ts'
import { evaluateLoginRisk } from './login-risk.ts'
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
}

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
  | { kind: 'success'; token: string; claims: SessionClaims; eventId: string; replayed: boolean }
  | { kind: 'invalid_credentials'; eventId: string; replayed: boolean }
  /** `newLockout`: this attempt triggered the lockout (it wrote account_locked). */
  | { kind: 'locked'; retryAfterSeconds: number; eventId: string; replayed: boolean; newLockout: boolean }

/**
 * One login attempt, in explicit steps:
 * 1. A retry (same Idempotency-Key) of an attempt already recorded gets that attempt's answer and writes
 *    nothing (replayRecordedAttempt).
 * 2. The password is verified outside any transaction (argon2id takes milliseconds and must not hold a
 *    lock); a locked account is answered without hashing, so an attack on it costs only the audit.
 * 3. The pure policy decides on the lockout state read in step 1, and one call to the database's append
 *    function re-checks that state under the row lock and records the events, the new lockout state and
 *    the outbox rows together (recordLoginAttempt), or answers with the newer state to decide on again.
 *    If the lock had expired meanwhile, the password is verified after all and the attempt decided again.
 * 4. If a concurrent retry with the same key was recorded first, the answer is that attempt's (step 1).
 */
export async function attemptLogin(deps: LoginDeps, input: LoginInput): Promise<LoginResult> {
  const { tenant, identifier, origin } = input
  const account = await findLoginAccount(deps.sql, tenant.id, identifier)
  const keyedId = input.idempotencyKey ? deterministicUuid('login', tenant.id, origin.channel, identifier, input.idempotencyKey) : null

  let attemptId = keyedId ?? uuidv7(deps.clock().getTime())
  let passwordValid: boolean | null = null
  if (keyedId) {
    const replay = await replayRecordedAttempt(deps, input, account, keyedId)
    if (replay.kind === 'replayed') return replay.result
    if (replay.kind === 'not_replayable') {
      // A success replays only to its password: this is a new attempt, with a fresh id and the password known wrong.
      attemptId = uuidv7(deps.clock().getTime())
      passwordValid = false
    }
  }

  passwordValid ??= isLocked(account.lockout, deps.clock()) ? null : await verifyPassword(deps, account, input.password)
  const recorded = await recordLoginAttempt(deps, input, account, attemptId, passwordValid)
  if (recorded.kind !== 'already_recorded') return recorded

  // Only a keyed id can have been recorded already: answer as that attempt was answered.
  const replay = await replayRecordedAttempt(deps, input, account, attemptId)
  if (replay.kind === 'replayed') return replay.result
  if (replay.kind === 'not_recorded') throw new Error(`login attempt ${attemptId} conflicted with an event that cannot be found`)
  const fresh = await recordLoginAttempt(deps, input, account, uuidv7(deps.clock().getTime()), false)
  if (fresh.kind === 'already_recorded') throw new Error('a fresh attempt id was recorded already')
  return fresh
}

async function verifyPassword(deps: LoginDeps, account: LoginAccount, password: string): Promise<boolean> {
  if (account.user === null) {
    await deps.hasher.verify(deps.dummyHash, password)
    return false
  }
  return deps.hasher.verify(account.user.passwordHash, password)
}

/** Stale snapshots in a row after which an attempt gives up (each one means another attempt on the account committed). */
const MAX_STALE_SNAPSHOTS = 100

/**
 * Records the attempt in one round trip. The pure policy decides on the lockout state the account was read
 * with; the append function re-checks that state under the row lock and, when another attempt changed it
 * meanwhile, writes nothing and answers with the state it found, on which the policy decides again. When
 * the password was skipped because the account looked locked (`passwordValid` null) and the lock turns
 * out to have expired, the password is verified (outside any transaction) and the attempt decided again.
 * An attempt id recorded already (a concurrent retry) answers `already_recorded`.
 */
async function recordLoginAttempt(
  deps: LoginDeps,
  input: LoginInput,
  account: LoginAccount,
  attemptId: string,
  passwordValid: boolean | null,
): Promise<LoginResult | AlreadyRecorded> {
  const { tenant, identifier, origin } = input
  const user = account.user
  let state = account.lockout
  let valid = passwordValid
  for (let stale = 0; ; ) {
    const now = deps.clock()
    const decision = decideLogin(state, tenant.lockoutPolicy, valid, now)
    if (decision.result === 'verify_required') {
      valid = await verifyPassword(deps, account, input.password)
      continue
    }

    const risk = evaluateLoginRisk({ userExists: user !== null, lockout: state, userAgent: origin.userAgent })
    const session = decision.result === 'success' && user ? await issueSession(deps, tenant, user, attemptId, now, origin.deviceId) : null
    const about = { origin, organisationId: user?.organisationId ?? null, userId: user?.id ?? null, identifier, risk }
    const typed = input.identifierAsTyped !== undefined && input.identifierAsTyped !== identifier ? input.identifierAsTyped : undefined
    const drafts = decision.effects.map((effect) => draftOfEffect(effect, attemptId, about, session?.claims, typed))
    let recorded: RecordedOrStale
    try {
      recorded = await recordEventsChecked(deps.sql, tenant, drafts, { now, lockout: { identifier, userId: user?.id ?? null, state: decision.next } }, state)
    } catch (error) {
      if (error instanceof DuplicateEventError) return { kind: 'already_recorded' }
      throw error
    }
    if (recorded.kind === 'stale') {
      if (++stale > MAX_STALE_SNAPSHOTS) throw new Error(`login attempt ${attemptId}: the lockout state changed under it ${MAX_STALE_SNAPSHOTS} times`)
      state = recorded.lockout
      continue
    }

    if (decision.result === 'success') return { kind: 'success', token: session!.token, claims: session!.claims, eventId: attemptId, replayed: false }
    if (decision.result === 'locked') {
      const newLockout = decision.effects.some((e) => e.type === 'account_locked')
      return { kind: 'locked', retryAfterSeconds: decision.retryAfterSeconds, eventId: attemptId, replayed: false, newLockout }
    }
    return { kind: 'invalid_credentials', eventId: attemptId, replayed: false }
  }
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
async function replayRecordedAttempt(deps: LoginDeps, input: LoginInput, account: LoginAccount, attemptId: string): Promise<Replay> {
  const [prior] = await deps.sql<PriorAttemptRow[]>`
    SELECT event_type, occurred_at, metadata FROM auth_logs
    WHERE tenant_id = ${input.tenant.id} AND id = ${attemptId}`
  if (!prior) return { kind: 'not_recorded' }
  if (prior.event_type === 'login_success' && account.user) {
    if (!(await deps.hasher.verify(account.user.passwordHash, input.password))) return { kind: 'not_replayable' }
    const session = await issueSession(deps, input.tenant, account.user, attemptId, prior.occurred_at, input.origin.deviceId)
    return { kind: 'replayed', result: { kind: 'success', ...session, eventId: attemptId, replayed: true } }
  }
  const lockedUntil = 'locked_until' in prior.metadata && prior.metadata.locked_until ? new Date(prior.metadata.locked_until) : null
  const now = deps.clock()
  if (lockedUntil && lockedUntil > now) {
    const retryAfterSeconds = Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000))
    return { kind: 'replayed', result: { kind: 'locked', retryAfterSeconds, eventId: attemptId, replayed: true, newLockout: false } }
  }
  return { kind: 'replayed', result: { kind: 'invalid_credentials', eventId: attemptId, replayed: true } }
}
