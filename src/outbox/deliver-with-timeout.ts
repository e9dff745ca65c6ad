import type { OutboxPayload } from '../core/auth-event.ts'
import type { EventSink } from '../sinks/event-sink.ts'

/** A sink that neither delivered nor failed in time; the relay treats it as a failed attempt. */
export class SinkTimeoutError extends Error {
  constructor(sink: string, ms: number) {
    super(`sink ${sink} did not confirm delivery within ${ms} ms`)
    this.name = 'SinkTimeoutError'
  }
}

/**
 * Calls `sink.deliver` and gives up after `timeoutMs`, so that a hung sink cannot hold a claim forever.
 * The abandoned call may still complete later; delivery is at-least-once, so that is a duplicate at worst.
 */
export async function deliverWithTimeout(sink: EventSink, batch: readonly OutboxPayload[], timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SinkTimeoutError(sink.name, timeoutMs)), timeoutMs)
  })
  try {
    await Promise.race([sink.deliver(batch), timeout])
  } finally {
    clearTimeout(timer)
  }
}
