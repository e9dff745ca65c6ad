import type { Tx } from '../db/client.ts'
import { PermanentSinkError, type EventSink } from '../sinks/event-sink.ts'
import { deadLetterEvent } from './dead-letter-event.ts'
import { deliverWithTimeout } from './deliver-with-timeout.ts'
import { markChainsDelivered } from './mark-chain-delivered.ts'
import { markChainFailed } from './mark-chain-failed.ts'
import { describeError, type ClaimedChain, type OutboxRow } from './outbox-row.ts'
import { retryDelayMs, type BackoffPolicy } from './retry-backoff.ts'

export interface DeliveryPolicy {
  /**
   * Failed attempts at one event before it is dead-lettered, which happens only once the sink is seen working
   * (it accepted other events after this one first failed): an outage of the whole sink backs off for as
   * long as it lasts and never turns healthy events into dead letters.
   */
  maxAttempts: number
  backoff: BackoffPolicy
  deliveryTimeoutMs: number
}

/** What one claim achieved for one sink. */
export interface DeliveryReport {
  /** Events the sink confirmed. */
  delivered: number
  /** Calls to `sink.deliver` (successful or not). */
  batches: number
  /** Calls to `sink.deliver` that failed. */
  failures: number
  deadLettered: { eventId: string; error: string }[]
  /** Chains whose head failed and now back off. */
  backedOff: number
  /** The last failure charged to a chain in this claim: its error and the chain's attempts so far (its backoff step). */
  lastFailure: { error: string; attempts: number; retryInMs: number } | null
}

/**
 * Delivers claimed chains to a sink and records the outcome on their cursors, inside the claim's
 * transaction. Healthy chains go in one batch. When a batch fails, or for a chain that is already retrying,
 * each chain is tried alone, halving the slice on failure until the failing event stands alone, so only
 * the offending event is charged:
 * a `PermanentSinkError` dead-letters it at once; any other error counts an attempt and backs the chain off,
 * dead-lettering the event once `maxAttempts` is reached. Events behind a dead letter continue in order.
 * If nothing at all gets through, the sink itself is presumably down: after the first chain is charged the
 * rest are left untouched for the next poll instead of each being charged for the same outage, and the
 * charged chain is never dead-lettered for it (see DeliveryPolicy.maxAttempts).
 */
export async function deliverClaimedChains(
  tx: Tx,
  sink: EventSink,
  chains: readonly ClaimedChain[],
  policy: DeliveryPolicy,
  clock: {
    /** The relay's clock at this claim: back-off is counted from it. */
    now: Date
    /** When this process last saw the sink accept a batch (any claim), on the same clock, or null. */
    sinkLastSuccessAt: Date | null
  },
): Promise<DeliveryReport> {
  const { now, sinkLastSuccessAt } = clock
  const report: DeliveryReport = { delivered: 0, batches: 0, failures: 0, deadLettered: [], backedOff: 0, lastFailure: null }
  let anySuccess = false

  const send = async (rows: readonly OutboxRow[]): Promise<unknown> => {
    report.batches++
    try {
      await deliverWithTimeout(sink, rows.map((r) => r.payload), policy.deliveryTimeoutMs)
      report.delivered += rows.length
      anySuccess = true
      return null
    } catch (error) {
      report.failures++
      return error ?? new Error('sink rejected the batch without a reason')
    }
  }

  const fresh = chains.filter((c) => c.attempts === 0 && c.rows.length > 0)
  let isolated = chains.filter((c) => c.attempts > 0 && c.rows.length > 0)
  if (fresh.length > 0) {
    const error = await send(fresh.flatMap((c) => c.rows))
    if (error === null) {
      await markChainsDelivered(tx, sink.name, fresh.map((c) => ({ tenantId: c.tenantId, shard: c.shard, seq: c.rows.at(-1)!.seq })))
    } else {
      isolated = [...fresh, ...isolated]
    }
  }

  for (const chain of isolated) {
    // Halve the slice on each failure until the failing event stands alone: O(log n) calls per poison
    // event. While nothing has got through in this claim (the sink may be down) and for a chain already
    // retrying, probe with the head event alone; otherwise try the chain's rows whole first.
    let size = chain.attempts > 0 || !anySuccess ? 1 : chain.rows.length
    let pending = chain.rows
    let passedSeq = chain.deliveredSeq
    let headAttempts = chain.attempts
    let charged = false

    while (pending.length > 0) {
      const slice = pending.slice(0, size)
      const error = await send(slice)
      if (error === null) {
        passedSeq = slice.at(-1)!.seq
        pending = pending.slice(slice.length)
        headAttempts = 0
        size = pending.length
        continue
      }
      if (slice.length > 1) {
        size = Math.floor(slice.length / 2)
        continue
      }
      const head = slice[0]!
      const attempts = headAttempts + 1
      const message = describeError(error)
      // Evidence that the sink works while this event fails: it accepted something in this claim, or since
      // this chain's head first failed. Without it the failure is an outage, which only backs off.
      const sinkWorks =
        anySuccess || (sinkLastSuccessAt !== null && chain.failingSince !== null && sinkLastSuccessAt > chain.failingSince)
      if (error instanceof PermanentSinkError || (attempts >= policy.maxAttempts && sinkWorks)) {
        await markChainsDelivered(tx, sink.name, [{ tenantId: chain.tenantId, shard: chain.shard, seq: passedSeq }])
        await deadLetterEvent(tx, sink.name, head, attempts, message)
        report.deadLettered.push({ eventId: head.eventId, error: message })
        passedSeq = head.seq
        pending = pending.slice(1)
        headAttempts = 0
        size = pending.length
        continue
      }
      const retryInMs = retryDelayMs(attempts, policy.backoff)
      await markChainFailed(tx, sink.name, { tenantId: chain.tenantId, shard: chain.shard, deliveredSeq: passedSeq, attempts, retryInMs, error: message }, now)
      report.backedOff++
      report.lastFailure = { error: message, attempts, retryInMs }
      charged = true
      break
    }
    if (!charged) await markChainsDelivered(tx, sink.name, [{ tenantId: chain.tenantId, shard: chain.shard, seq: passedSeq }])
    if (charged && !anySuccess) break
  }
  return report
}
