import type { OutboxPayload } from '../core/auth-event.ts'

/**
 * A destination the outbox relay replicates events to. `deliver` resolves only once the whole batch is
 * delivered as far as the transport can tell, and rejects otherwise; the relay then retries the batch,
 * so a sink must tolerate receiving an event more than once (at-least-once delivery).
 * Events of one chain arrive in sequence order.
 */
export interface EventSink {
  readonly name: SinkName
  deliver(batch: readonly OutboxPayload[]): Promise<void>
  close(): Promise<void>
}

export const SINK_NAMES = ['docstore', 'syslog'] as const
export type SinkName = (typeof SINK_NAMES)[number]

/** Thrown by a sink for an event it will never accept (a poison event): the relay dead-letters it at once. */
export class PermanentSinkError extends Error {
  override readonly name = 'PermanentSinkError'
  constructor(message: string, readonly eventId: string) {
    super(message)
  }
}
