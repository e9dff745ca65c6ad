import type { JsonObject, RiskEvaluation } from '../core/auth-event.ts'
import { deterministicUuid, uuidv7 } from '../core/ids.ts'
import { decideLogin, isLocked, type LockoutEffect } from '../core/lockout-policy.ts'
import { DuplicateEventError, recordEvents, type EventDraft, type RequestOrigin } from '../audit/record-events.ts'
import type { Sql } from '../db/client.ts'
import { lockLockoutState } from '../db/lockouts.ts'
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
  password: string
  origin: RequestOrigin
  idempotencyKey: string | null
}

export type LoginResult =
  | { kind: 'success'; token: string; claims: SessionClaims; eventId: string; replayed: boolean }
  | { kind: 'invalid_credentials'; eventId: string; replayed: boolean }
  /** `newLockout`: this attempt triggered the lockout (it wrote account_locked). */
  | { kind: 'locked'; retryAfterSeconds: number; eventId: string; replayed: boolean; newLockout: boolean }

class VerificationRequired extends Error {}

/**
 * One login attempt. The password is verified outside any transaction (argon2id takes milliseconds and
 * must not hold a lock); then one transaction locks the identifier's lockout state, decides, and writes
 * the auth log rows, the new lockout state and the outbox rows together.
 */
export async function attemptLogin(deps: LoginDeps, input: LoginInput): Promise<LoginResult> {
  const { tenant, identifier, origin } = input
  const account = await findLoginAccount(deps.sql, tenant.id, identifier)
  const primaryId = input.idempotencyKey
    ? deterministicUuid('login', tenant.id, origin.channel, identifier, input.idempotencyKey)
    : uuidv7(deps.clock().getTime())

  if (input.idempotencyKey) {
    const replay = await replayPriorAttempt(deps, input, account, primaryId)
    if (replay) return replay
  }

  // A locked account is answered without hashing: an attack on it costs only the audit transaction.
  let passwordValid: boolean | null = isLocked(account.lockout, deps.clock()) ? null : await verifyPassword(deps, account, input.password)

  for (;;) {
    try {
      return await recordAttempt(deps, input, account, primaryId, passwordValid)
    } catch (error) {
      if (error instanceof VerificationRequired) {
        passwordValid = await verifyPassword(deps, account, input.password)
        continue
      }
      if (error instanceof DuplicateEventError) {
        const replay = await replayPriorAttempt(deps, input, account, primaryId)
        if (replay) return replay
      }
      throw error
    }
  }
}

async function verifyPassword(deps: LoginDeps, account: LoginAccount, password: string): Promise<boolean> {
  if (account.user === null) {
    await deps.hasher.verify(deps.dummyHash, password)
    return false
  }
  return deps.hasher.verify(account.user.passwordHash, password)
}

function recordAttempt(
  deps: LoginDeps,
  input: LoginInput,
  account: LoginAccount,
  primaryId: string,
  passwordValid: boolean | null,
): Promise<LoginResult> {
  const { tenant, identifier, origin } = input
  const user = account.user
  return deps.sql.begin(async (tx) => {
    const state = await lockLockoutState(tx, tenant.id, identifier, user?.id ?? null)
    const now = deps.clock()
    const decision = decideLogin(state, tenant.lockoutPolicy, passwordValid, now)
    if (decision.result === 'verify_required') throw new VerificationRequired()

    const risk = evaluateLoginRisk({ userExists: user !== null, lockout: state, userAgent: origin.userAgent })
    let session: { token: string; claims: SessionClaims } | null = null
    if (decision.result === 'success' && user) {
      session = await issueSession(deps, tenant, user, primaryId, now)
    }

    const about = { origin, organisationId: user?.organisationId ?? null, userId: user?.id ?? null, identifier, risk }
    const drafts = decision.effects.map((effect) => draftOfEffect(effect, primaryId, about, session?.claims))
    await recordEvents(tx, tenant, drafts, { now, lockout: { identifier, userId: user?.id ?? null, state: decision.next } })

    if (decision.result === 'success') return { kind: 'success', token: session!.token, claims: session!.claims, eventId: primaryId, replayed: false }
    if (decision.result === 'locked') {
      const newLockout = decision.effects.some((e) => e.type === 'account_locked')
      return { kind: 'locked', retryAfterSeconds: decision.retryAfterSeconds, eventId: primaryId, replayed: false, newLockout }
    }
    return { kind: 'invalid_credentials', eventId: primaryId, replayed: false }
  })
}

async function issueSession(
  deps: LoginDeps,
  tenant: Tenant,
  user: NonNullable<LoginAccount['user']>,
  eventId: string,
  now: Date,
): Promise<{ token: string; claims: SessionClaims }> {
  const iat = Math.floor(now.getTime() / 1000)
  // The jti is derived from the event id: a replayed request re-issues the very same token.
  const claims: Omit<SessionClaims, 'iss'> = {
    sub: user.id,
    tid: tenant.id,
    org: user.organisationId,
    role: user.role,
    jti: deterministicUuid('jti', eventId),
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
): EventDraft {
  const derivedId = () => deterministicUuid(attemptId, effect.type, 'reason' in effect ? effect.reason : '')
  switch (effect.type) {
    case 'login_failed':
      return { ...about, id: attemptId, eventType: 'login_failed', outcome: 'failure', reason: effect.reason, metadata: { failed_attempts: effect.failures, locked_until: effect.lockedUntil?.toISOString() ?? null } }
    case 'login_success':
      return { ...about, id: attemptId, eventType: 'login_success', outcome: 'success', tokenJti: claims!.jti, metadata: { token_expires_at: new Date(claims!.exp * 1000).toISOString() } }
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

interface PriorAttemptRow {
  event_type: string
  reason: string | null
  occurred_at: Date
  metadata: JsonObject
}

/**
 * A request retried with the same Idempotency-Key gets the first attempt's answer and writes nothing.
 * A success is replayed only to a caller who presents the same password (the very same token is
 * re-signed from the stored jti and times); otherwise the request is a new attempt with a fresh id.
 */
async function replayPriorAttempt(
  deps: LoginDeps,
  input: LoginInput,
  account: LoginAccount,
  primaryId: string,
): Promise<LoginResult | null> {
  const [prior] = await deps.sql<PriorAttemptRow[]>`
    SELECT event_type, reason, occurred_at, metadata FROM auth_logs
    WHERE tenant_id = ${input.tenant.id} AND id = ${primaryId}`
  if (!prior) return null
  if (prior.event_type === 'login_success' && account.user) {
    if (!(await deps.hasher.verify(account.user.passwordHash, input.password))) {
      return attemptLogin(deps, { ...input, idempotencyKey: null })
    }
    const session = await issueSession(deps, input.tenant, account.user, primaryId, prior.occurred_at)
    return { kind: 'success', ...session, eventId: primaryId, replayed: true }
  }
  const lockedUntil = typeof prior.metadata.locked_until === 'string' ? new Date(prior.metadata.locked_until) : null
  const now = deps.clock()
  if (lockedUntil && lockedUntil > now) {
    const retryAfterSeconds = Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000))
    return { kind: 'locked', retryAfterSeconds, eventId: primaryId, replayed: true, newLockout: false }
  }
  return { kind: 'invalid_credentials', eventId: primaryId, replayed: true }
}
