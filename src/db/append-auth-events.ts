import type { LockoutSnapshot, UnsequencedEvent } from '../core/auth-event.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import { defenceWriteJson, staleDefenceFromJson, type DefenceWrite, type StaleDefence, type StaleDefenceJson } from './ip-throttles.ts'
import { lockoutStateFromJson, lockoutStateJson, type LockoutStateJson } from './lockouts.ts'
import type { Queryable } from './queryable.ts'
import { assertBeforeRequestDeadline, requestWriteDeadline, requestWriteToken, RequestDeadlineError, trackWrite } from './request-deadline.ts'
import { sessionOpeningJson, type SessionOpening } from './sessions.ts'

/** One event as the append function takes it: its fields and its canonical JSON around the sequence number. */
export interface AppendedEventInput extends UnsequencedEvent {
  canonical_head: string
  canonical_tail: string
}

/** What an attempt writes besides its events: an account's new lockout state, checked against `expected` when given. */
export interface AppendLockout {
  identifier: string
  userId: string | null
  next: LockoutState
  /** The outbox's copy of the new state, without its chain position (the function adds it). */
  snapshot: Omit<LockoutSnapshot, 'shard' | 'seq'>
  /** The state the caller decided on: when the row holds another, nothing is written and the answer is `stale`. */
  expected?: LockoutState
}

export interface AppendRequest {
  tenantId: string
  shard: number
  now: Date
  events: AppendedEventInput[]
  lockout?: AppendLockout
  /** A login attempt's address state: appended through append_login_attempt(), which composes with append_auth_events(). */
  defence?: DefenceWrite
  /** The events are administrative changes that apply_admin_events() makes before appending them. */
  applyChanges?: boolean
  /** A successful login's session and first refresh token: stored in the same call, only if the attempt is appended. */
  session?: SessionOpening
}

/** The place, digests and link the database gave one event (hex). */
export interface AppendedLink {
  seq: number
  prev_hash: string
  chain_hash: string
  sha256: string
  sha512: string
  sha3_256: string
}

export type AppendAnswer =
  | { status: 'appended'; events: AppendedLink[] }
  | { status: 'duplicate' }
  | { status: 'stale'; lockout: LockoutState }
  | { status: 'stale_defence'; defence: StaleDefence }

type RawAnswer =
  | { status: 'appended'; events: AppendedLink[] }
  | { status: 'duplicate' }
  | { status: 'stale'; lockout: LockoutStateJson }
  | ({ status: 'stale_defence' } & StaleDefenceJson)

/**
 * Calls append_auth_events(): in one round trip (and, outside a transaction, one transaction) it checks
 * the lockout row under its lock, numbers, digests and links the events under the chain head's lock, and
 * writes the auth_logs rows, the outbox rows, the new head and the lockout state. The only way the
 * runtime role can write the trail. On behalf of a request it runs only before the request's deadline, on
 * the server's clock: a call held up by the network past the 503 writes nothing.
 */
export async function appendAuthEvents(db: Queryable, request: AppendRequest): Promise<AppendAnswer> {
  assertBeforeRequestDeadline()
  const deadline = requestWriteDeadline()
  const { lockout } = request
  const attempt = {
    tenant_id: request.tenantId,
    shard: request.shard,
    now: request.now.toISOString(),
    events: request.events,
    ...(lockout && {
      lockout: {
        identifier: lockout.identifier,
        user_id: lockout.userId,
        next: lockoutStateJson(lockout.next),
        snapshot: lockout.snapshot,
        ...(lockout.expected && { expected: lockoutStateJson(lockout.expected) }),
      },
    }),
  }
  if (request.session && !request.defence) throw new Error('a session is stored only with a login attempt')
  const login = request.defence && db.json({ ...attempt, defence: defenceWriteJson(request.defence) } as never)
  const call = login
    ? request.session
      ? db`append_login_attempt_opening_session(${login}, ${db.json(sessionOpeningJson(request.session) as never)})`
      : db`append_login_attempt(${login})`
    : request.applyChanges
      ? db`apply_admin_events(${db.json(attempt as never)})`
      : db`append_auth_events(${db.json(attempt as never)})`
  // On behalf of a request, the append begins only before the request's write deadline and once it has
  // claimed the request's write token (not settled: see settleRequestWrites), and, having ended, raises
  // (rolling itself back) if that deadline passed meanwhile (OFFSET 0 keeps the call in its subquery,
  // evaluated before the check; the WHERE is a one-time filter, evaluated before the call).
  const [row] =
    deadline === null
      ? await db<{ answer: RawAnswer }[]>`SELECT ${call} AS answer`
      : await trackWrite(db<{ answer: RawAnswer }[]>`
          SELECT CASE WHEN clock_timestamp() < ${deadline} THEN appended.answer ELSE request_deadline_passed() END AS answer
          FROM (SELECT ${call} AS answer WHERE clock_timestamp() < ${deadline} AND claim_request_write(${requestWriteToken()}::uuid) OFFSET 0) appended`.execute())
  if (row === undefined) throw new RequestDeadlineError()
  const answer = row.answer
  if (answer.status === 'stale') return { status: 'stale', lockout: lockoutStateFromJson(answer.lockout) }
  if (answer.status === 'stale_defence') return { status: 'stale_defence', defence: staleDefenceFromJson(answer) }
  return answer
}

/**
 * Ends the current request's writes: once this returns, no append made on its behalf can commit any more,
 * and one that was still running (its connection lost while it committed) has committed or rolled back,
 * so what the request then reads of its own writes is final. Outside a request there is nothing to settle.
 */
export async function settleRequestWrites(db: Queryable): Promise<void> {
  const token = requestWriteToken()
  if (token === null) return
  await db`SELECT settle_request_write(${token}::uuid)`
}
