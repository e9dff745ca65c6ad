import type { LockoutSnapshot, UnsequencedEvent } from '../core/auth-event.ts'
import type { LockoutState } from '../core/lockout-policy.ts'
import { defenceWriteJson, staleDefenceFromJson, type DefenceWrite, type StaleDefence, type StaleDefenceJson } from './ip-throttles.ts'
import { lockoutStateFromJson, lockoutStateJson, type LockoutStateJson } from './lockouts.ts'
import type { Queryable } from './queryable.ts'
import { requestDeadlineAt, RequestDeadlineError } from './request-deadline.ts'

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
  const deadline = requestDeadlineAt()
  const inTime = deadline === null ? db`` : db`WHERE clock_timestamp() < ${deadline}`
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
  const [row] = request.defence
    ? await db<{ answer: RawAnswer }[]>`SELECT append_login_attempt(${db.json({ ...attempt, defence: defenceWriteJson(request.defence) } as never)}) AS answer ${inTime}`
    : request.applyChanges
      ? await db<{ answer: RawAnswer }[]>`SELECT apply_admin_events(${db.json(attempt as never)}) AS answer ${inTime}`
    : await db<{ answer: RawAnswer }[]>`SELECT append_auth_events(${db.json(attempt as never)}) AS answer ${inTime}`
  if (row === undefined) throw new RequestDeadlineError()
  const answer = row.answer
  if (answer.status === 'stale') return { status: 'stale', lockout: lockoutStateFromJson(answer.lockout) }
  if (answer.status === 'stale_defence') return { status: 'stale_defence', defence: staleDefenceFromJson(answer) }
  return answer
}
