import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The deadline of the request being served, as an AbortSignal aborted when the request has been answered
 * 503 for taking too long (REQUEST_TIMEOUT_MS). A transaction begun on its behalf checks it before it
 * commits and rolls back once it has passed: when the database stalls (a network partition, not a slow
 * statement, so that statement_timeout never runs), the work queued behind the stall would otherwise
 * commit after the client was told it failed.
 */
const deadlines = new AsyncLocalStorage<AbortSignal>()

/** The error a transaction ends with when its request's deadline passed before it could commit. */
export class RequestDeadlineError extends Error {
  override name = 'RequestDeadlineError'
  /** Recognised as the database being unavailable (see isDatabaseUnavailable): the answer is 503. */
  readonly code = 'REQUEST_DEADLINE'
  constructor() {
    super('the request was answered before its transaction could commit; rolled back')
  }
}

/**
 * Runs `body` on behalf of a request whose deadline is `signal`.
 *
 * @example
 * const deadline = new AbortController()
 * setTimeout(() => deadline.abort(), 5_000)
 * await withRequestDeadline(deadline.signal, () => handle(request))
 */
export function withRequestDeadline<T>(signal: AbortSignal, body: () => T): T {
  return deadlines.run(signal, body)
}

/** True while a request's deadline is in scope (its transactions must be checked before they commit). */
export function hasRequestDeadline(): boolean {
  return deadlines.getStore() !== undefined
}

/** Throws RequestDeadlineError when the current request's deadline has passed. */
export function assertBeforeRequestDeadline(): void {
  if (deadlines.getStore()?.aborted) throw new RequestDeadlineError()
}
