/**
 * One way of moving formatted syslog messages (RFC 5424 lines without framing) to a receiver.
 * `send` keeps the order of its messages and of successive calls; it resolves only once the messages are
 * delivered as far as the transport can tell, and rejects otherwise, so that the caller retries them.
 */
export interface SyslogTransport {
  send(messages: readonly string[]): Promise<void>
  /** Waits for sends under way, then releases the connection or file. */
  close(): Promise<void>
}

/** Thrown when a send is refused because too many are already waiting: the caller should back off. */
export class SyslogBackpressureError extends Error {
  constructor(queued: number) {
    super(`syslog transport has ${queued} sends waiting; refusing more`)
  }
}

/**
 * Runs tasks one at a time in call order, with a bound on how many may wait: the bound is what keeps
 * memory finite when a receiver is slower than the relay.
 */
export function createSerialQueue(maxWaiting: number) {
  let tail: Promise<unknown> = Promise.resolve()
  let waiting = 0
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      if (waiting >= maxWaiting) return Promise.reject(new SyslogBackpressureError(waiting))
      waiting++
      const result = tail.then(task)
      tail = result.then(
        () => waiting--,
        () => waiting--,
      )
      return result
    },
    /** Resolves once every task queued so far has finished. */
    idle(): Promise<void> {
      return tail.then(() => undefined)
    },
  }
}
