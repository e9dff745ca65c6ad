import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The deadline of the request being served, as an AbortSignal aborted when the request has been answered
 * 503 for taking too long (REQUEST_TIMEOUT_MS). A transaction begun on its behalf checks it before it
 * commits and rolls back once it has passed: when the database stalls (a network partition, not a slow
 * statement, so that statement_timeout never runs), the work queued behind the stall would otherwise
 * commit after the client was told it failed.
 */
const deadlines = new AsyncLocalStorage<{ signal: AbortSignal; at: Date }>()

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
 * Runs `body` on behalf of a request answered 503 at `at`, when `signal` is aborted.
 *
 * @example
 * const deadline = new AbortController()
 * setTimeout(() => deadline.abort(), 5_000)
 * await withRequestDeadline(deadline.signal, new Date(Date.now() + 5_000), () => handle(request))
 */
export function withRequestDeadline<T>(signal: AbortSignal, at: Date, body: () => T): T {
  return deadlines.run({ signal, at }, body)
}

/**
 * When the current request will have been answered, or null outside a request: a single statement that
 * commits by itself checks it on the server (`WHERE clock_timestamp() < deadline`), so that one held up
 * by the network and executed late writes nothing. Exact as far as the service's and the database's
 * clocks agree.
 */
export function requestDeadlineAt(): Date | null {
  return deadlines.getStore()?.at ?? null
}

/** Throws RequestDeadlineError when the current request's deadline has passed. */
export function assertBeforeRequestDeadline(): void {
  if (deadlines.getStore()?.signal.aborted) throw new RequestDeadlineError()
}
