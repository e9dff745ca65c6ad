import type { OutboxPayload } from '../../src/core/auth-event.ts'
import type { EventSink, SinkName } from '../../src/sinks/event-sink.ts'

/**
 * A real EventSink that keeps what it receives in memory, in arrival order. `failWith` makes `deliver`
 * reject (whole batch, nothing recorded) while it returns an error for some event of the batch.
 */
export interface RecordingSink extends EventSink {
  /** Every payload delivered, in delivery order, duplicates included. */
  readonly received: OutboxPayload[]
  /** Calls to `deliver`, failed ones included. */
  calls: number
  failWith: ((payload: OutboxPayload) => Error | null) | null
  /** Milliseconds each `deliver` call takes. */
  delayMs: number
}

export function createRecordingSink(name: SinkName, options: { delayMs?: number; shared?: OutboxPayload[] } = {}): RecordingSink {
  const sink: RecordingSink = {
    name,
    received: options.shared ?? [],
    calls: 0,
    failWith: null,
    delayMs: options.delayMs ?? 0,
    async deliver(batch) {
      sink.calls++
      if (sink.delayMs > 0) await new Promise((r) => setTimeout(r, sink.delayMs))
      for (const payload of batch) {
        const error = sink.failWith?.(payload)
        if (error) throw error
      }
      sink.received.push(...batch)
    },
    async close() {},
  }
  return sink
}

/** Event ids per chain (`tenant/shard`), in the order a sink received them. */
export function receivedByChain(received: readonly OutboxPayload[]): Map<string, number[]> {
  const chains = new Map<string, number[]>()
  for (const { event } of received) {
    const key = `${event.tenant_id}/${event.shard}`
    chains.set(key, [...(chains.get(key) ?? []), event.seq])
  }
  return chains
}
