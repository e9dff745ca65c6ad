import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The deadline of the request being served, as an AbortSignal aborted when the request has been answered
 * 503 for taking too long (REQUEST_TIMEOUT_MS). A transaction begun on its behalf checks it before it
 * commits and rolls back once it has passed: when the database stalls (a network partition, not a slow
 * statement, so that statement_timeout never runs), the work queued behind the stall would otherwise
 * commit after the client was told it failed.
 */
const deadlines = new AsyncLocalStorage<RequestDeadline>()

/**
 * A request's deadline. `writeBy` comes a little before the answer is due: an append must end on the
 * server by then or roll back, so that the answer of one that committed reaches the service before the
 * request is answered 503.
 */
export interface RequestDeadline {
  signal: AbortSignal
  writeBy: Date
  /**
   * The request's write token (a random UUID): every append made on its behalf claims it in the database,
   * and settling it there (settleRequestWrites) ends the request's writes: none commits afterwards, and
   * one still running has ended by the time the settlement returns.
   */
  writeToken: string
  /**
   * Writes sent on the request's behalf whose outcome is not known yet (an append, a COMMIT). When the
   * answer falls due while one is in flight, the answer waits for it (a little): whether it committed
   * decides between the real answer and 503, so that a 503 never stands for an attempt that was recorded.
   */
  writesInFlight: Map<Promise<unknown>, number | undefined>
  /** Called when a write is added to `writesInFlight` (the bound gives one added after the deadline its own wait). */
  onWrite?: (waitMs: number | undefined) => void
}

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
 * Runs `body` on behalf of a request answered 503 when `signal` is aborted.
 *
 * @example
 * const abort = new AbortController()
 * setTimeout(() => abort.abort(), 5_000)
 * await withRequestDeadline({ signal: abort.signal, writeBy: new Date(Date.now() + 4_500), writeToken: crypto.randomUUID(), writesInFlight: new Map() }, () => handle(request))
 */
export function withRequestDeadline<T>(deadline: RequestDeadline, body: () => T): T {
  return deadlines.run(deadline, body)
}

/**
 * When the current request's appends must have ended, or null outside a request: an append checks it on
 * the server before it begins and again when it has ended, rolling back if it is late, so that one held
 * up by the network or by locks writes nothing once the request may have been answered. Exact as far as
 * the service's and the database's clocks agree.
 */
export function requestWriteDeadline(): Date | null {
  return deadlines.getStore()?.writeBy ?? null
}

/** The current request's write token (see RequestDeadline.writeToken), or null outside a request. */
export function requestWriteToken(): string | null {
  return deadlines.getStore()?.writeToken ?? null
}

/**
 * Marks `write` (already sent to the database, or the finding out of whether one committed) as in flight
 * for the current request until it settles, and returns it. Outside a request it is returned as is.
 * `waitMs`: how long the answer may wait for it past the deadline (default: the bound's margin).
 */
export function trackWrite<T>(write: Promise<T>, waitMs?: number): Promise<T> {
  const deadline = deadlines.getStore()
  if (deadline === undefined) return write
  deadline.writesInFlight.set(write, waitMs)
  const settled = () => deadline.writesInFlight.delete(write)
  write.then(settled, settled)
  deadline.onWrite?.(waitMs)
  return write
}

/**
 * `work`'s outcome; or, should the current request's deadline pass while a write sent on its behalf is
 * still in flight (its outcome unknown: a commit taking longer than the bound's margin on a loaded
 * server, typically), the outcome of `late()`, which finds out what the request recorded. Once the
 * deadline has passed no new write begins, so with none in flight `work` ends soon and the answer is 503.
 * Outside a request, `work` as is.
 */
export function unlessDeadlinePassesMidWrite<T>(work: Promise<T>, late: () => Promise<T>): Promise<T> {
  const deadline = deadlines.getStore()
  if (deadline === undefined || deadline.signal.aborted) return work
  const { signal } = deadline
  return new Promise<T>((resolve, reject) => {
    let decided = false
    const onAbort = () => {
      if (decided || deadline.writesInFlight.size === 0) return
      decided = true
      // The abort is dispatched from the bound's timer, outside the request's context: `late` runs in it.
      deadlines.run(deadline, late).then(resolve, reject)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    const settle = (answer: () => void) => {
      signal.removeEventListener('abort', onAbort)
      if (decided) return
      decided = true
      answer()
    }
    work.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    )
  })
}

/** Throws RequestDeadlineError when the current request's deadline has passed. */
export function assertBeforeRequestDeadline(): void {
  if (deadlines.getStore()?.signal.aborted) throw new RequestDeadlineError()
}
