import type { Sql } from '../db/client.ts'
import type { EventSink } from '../sinks/event-sink.ts'
import { claimOutboxBatch } from './claim-outbox-batch.ts'
import { compactOutbox } from './compact-outbox.ts'
import { deliverClaimedChains, type DeliveryPolicy, type DeliveryReport } from './deliver-claimed-chains.ts'
import { discoverChains } from './discover-chains.ts'
import { describeError } from './outbox-row.ts'
import { createSinkCounters, type RelayStats } from './relay-stats.ts'
import { DEFAULT_BACKOFF, type BackoffPolicy } from './retry-backoff.ts'

/** The channel the outbox trigger notifies on every insert statement. */
export const OUTBOX_CHANNEL = 'authtrail_outbox'

export interface OutboxRelayOptions {
  sql: Sql
  sinks: readonly EventSink[]
  /** Events per claim (shared among the claimed chains). Default 2000: fewer claims, settles and commits per event (measured: 19k → 29k events/s to rsyslog over TCP). */
  batchSize?: number
  /** Failed attempts at one event before it is dead-lettered. Default 10. */
  maxAttempts?: number
  /**
   * The longest wait between two polls of an idle outbox, and the retry tick for chains backing off.
   * Writers send no NOTIFY (it serialised their commits), so the relay polls: again after
   * `minPollIntervalMs` while there is work, then waiting twice as long after each empty poll, up to this.
   * Default 250 ms, which bounds the lag of the first event after a quiet spell.
   */
  pollIntervalMs?: number
  /** The wait after a poll that delivered something. Default 5 ms. */
  minPollIntervalMs?: number
  /** Wake also on NOTIFY `authtrail_outbox` (sent by nothing on the write path; a manual wake-up). Needs a second connection: false on embedded PGlite. Default true. */
  listen?: boolean
  log?: (entry: Record<string, unknown>) => void
  backoff?: BackoffPolicy
  /** Chains per claim. Default 32. */
  maxChainsPerClaim?: number
  /** Two claims per sink at once while claims go through whole (see drainSink). Default true. */
  pipelineClaims?: boolean
  /** A `deliver` call not settled by then counts as failed. Default 30 s. */
  deliveryTimeoutMs?: number
  /** How often delivered rows are deleted from the outbox. Default 5 s. */
  compactIntervalMs?: number
  /** The relay's clock (back-off, last success, start time). Default: the system clock. Tests advance it instead of sleeping. */
  now?: () => Date
}

export interface OutboxRelay {
  /** Starts one delivery loop per sink (and the LISTEN, if enabled). Resolves once listening. */
  start(): Promise<void>
  /** Stops the loops after their current claim ends; does not close the sinks or the SQL client. */
  stop(): Promise<void>
  /** Delivers everything currently deliverable to every sink, compacts, and returns the events delivered. */
  drainOnce(): Promise<number>
  stats(): RelayStats
}

/**
 * The outbox relay: replicates outbox events to each sink independently, in chain order, at least once.
 * Each claim is one transaction that locks a few chains' cursors for one sink, delivers their next events
 * and moves the cursors; several relays (processes or instances) share the work without double delivery,
 * and one that is killed leaves its claim to be delivered again. A failing sink backs off on its own
 * cursors and never holds back the other sinks.
 *
 * @example
 * const relay = createOutboxRelay({ sql, sinks: [syslogSink, docstoreSink], log })
 * await relay.start()
 * // ...
 * await relay.stop()
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { sql, sinks } = options
  const log = options.log ?? (() => {})
  const now = options.now ?? (() => new Date())
  const batchSize = options.batchSize ?? 2000
  const pollIntervalMs = options.pollIntervalMs ?? 250
  const minPollIntervalMs = Math.min(options.minPollIntervalMs ?? 5, pollIntervalMs)
  const compactIntervalMs = options.compactIntervalMs ?? 5_000
  const maxChains = options.maxChainsPerClaim ?? 32
  const pipelineClaims = options.pipelineClaims ?? true
  const policy: DeliveryPolicy = {
    maxAttempts: options.maxAttempts ?? 10,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 30_000,
  }
  const sinkNames = [...new Set(sinks.map((s) => s.name))]
  if (sinkNames.length !== sinks.length) throw new Error('each sink may be given to a relay only once')

  const counters = new Map(sinks.map((s) => [s.name, createSinkCounters()]))
  // When each sink last accepted a batch: evidence that a failing event is the problem, not the sink.
  const lastSuccessAt = new Map<string, Date>()
  // The highest backoff step logged per sink since it last delivered: a failing sink is logged once per
  // step (1 s, 2 s, 4 s… apart by default), not once per claim or per chain.
  const loggedFailureStep = new Map<string, number>()
  let compactedRows = 0
  let running = false
  let startedAt: string | null = null
  let loops: Promise<void>[] = []
  let unlisten: (() => Promise<void>) | null = null
  const sleepers = new Map<string, { woken: boolean; wake: (() => void) | null }>(
    [...sinkNames, '(compaction)'].map((name) => [name, { woken: false, wake: null }]),
  )

  const wakeAll = () => {
    for (const s of sleepers.values()) {
      s.woken = true
      s.wake?.()
    }
  }

  const sleep = (name: string, ms: number) =>
    new Promise<void>((resolve) => {
      const s = sleepers.get(name)!
      if (s.woken || !running) {
        s.woken = false
        return resolve()
      }
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        s.wake = null
        s.woken = false
        resolve()
      }
      s.wake = done
    })

  /** One claim for one sink, in one transaction. */
  const relayClaim = async (sink: EventSink): Promise<DeliveryReport & { claimed: number }> => {
    const report = await sql.begin(async (tx) => {
      const claimedAt = now()
      const chains = await claimOutboxBatch(tx, sink.name, { maxChains, batchSize, now: claimedAt })
      if (chains.length === 0) return null
      const report = await deliverClaimedChains(tx, sink, chains, policy, {
        now: claimedAt,
        sinkLastSuccessAt: lastSuccessAt.get(sink.name) ?? null,
      })
      return { ...report, claimed: chains.length }
    })
    const result = report ?? { delivered: 0, batches: 0, failures: 0, deadLettered: [], backedOff: 0, lastFailure: null, claimed: 0 }
    counters.get(sink.name)!.record({ ...result, deadLettered: result.deadLettered.length, ...(result.lastFailure && { lastError: result.lastFailure.error }) })
    if (result.delivered > 0) lastSuccessAt.set(sink.name, now())
    logSinkFailure(sink.name, result)
    for (const dead of result.deadLettered) {
      log({ level: 'warn', msg: 'outbox event dead-lettered', sink: sink.name, event_id: dead.eventId, error: dead.error })
    }
    return result
  }

  /** One warn line per sink per backoff step while it fails, with the error; the count starts again once it delivers. */
  const logSinkFailure = (name: string, result: DeliveryReport) => {
    if (result.lastFailure === null) {
      if (result.delivered > 0) loggedFailureStep.delete(name)
      return
    }
    const { error, attempts, retryInMs } = result.lastFailure
    if (attempts <= (loggedFailureStep.get(name) ?? 0)) return
    loggedFailureStep.set(name, attempts)
    log({ level: 'warn', msg: 'outbox sink failed', sink: name, error, attempts, retry_in_ms: retryInMs, failed_batches: result.failures })
  }

  /**
   * Claims for one sink until nothing more can be delivered now; returns the events delivered. While
   * claims go through whole, two run at once (pipelined): one claims and writes its batch while the
   * other's batch settles and its cursors commit. They never share a chain (the claim's cursor locks
   * are skipped by the other), so each chain's order holds. After any failure claims run one at a time
   * again, so an outage charges chains as a single claim would.
   */
  const drainSink = async (sink: EventSink): Promise<number> => {
    await discoverChains(sql, sink.name)
    let delivered = 0
    let failed = false
    let second: Promise<void> | null = null
    const lane = async (first: boolean) => {
      for (;;) {
        const report = await relayClaim(sink)
        delivered += report.delivered
        if (report.failures > 0) failed = true
        if (report.claimed === 0 || (report.delivered === 0 && report.deadLettered.length === 0)) return
        if (!first && failed) return
        if (first && !failed && pipelineClaims && second === null) {
          second = lane(false)
          // Awaited below; until then a failure of it must not count as unhandled.
          second.catch(() => {})
        }
      }
    }
    try {
      await lane(true)
    } finally {
      await second
    }
    return delivered
  }

  const compact = async () => {
    compactedRows += await compactOutbox(sql, sinkNames)
  }

  const runSinkLoop = async (sink: EventSink) => {
    let wait = minPollIntervalMs
    while (running) {
      let delivered = 0
      try {
        delivered = await drainSink(sink)
      } catch (error) {
        const message = describeError(error)
        counters.get(sink.name)!.record({ delivered: 0, batches: 0, failures: 0, deadLettered: 0, lastError: message })
        log({ level: 'error', msg: 'outbox relay claim failed', sink: sink.name, error: message })
      }
      // Adaptive back-off: poll again soon while events arrive, ever less often while none do.
      wait = delivered > 0 ? minPollIntervalMs : Math.min(pollIntervalMs, wait * 2)
      await sleep(sink.name, wait)
    }
  }

  const runCompactionLoop = async () => {
    while (running) {
      try {
        await compact()
      } catch (error) {
        log({ level: 'error', msg: 'outbox compaction failed', error: describeError(error) })
      }
      await sleep('(compaction)', compactIntervalMs)
    }
  }

  return {
    async start() {
      if (running) return
      running = true
      startedAt = now().toISOString()
      if (options.listen ?? true) {
        try {
          const listener = await sql.listen(OUTBOX_CHANNEL, () => {
            for (const name of sinkNames) {
              const s = sleepers.get(name)!
              s.woken = true
              s.wake?.()
            }
          })
          unlisten = listener.unlisten
        } catch (error) {
          log({ level: 'warn', msg: 'outbox LISTEN unavailable; polling only', error: describeError(error) })
        }
      }
      loops = [...sinks.map((s) => runSinkLoop(s)), runCompactionLoop()]
    },

    async stop() {
      if (!running) return
      running = false
      wakeAll()
      await Promise.all(loops)
      loops = []
      await unlisten?.().catch(() => {})
      unlisten = null
    },

    async drainOnce() {
      const delivered = await Promise.all(sinks.map((s) => drainSink(s)))
      await compact()
      return delivered.reduce((a, b) => a + b, 0)
    },

    stats() {
      return {
        running,
        startedAt,
        compactedRows,
        sinks: Object.fromEntries([...counters].map(([name, c]) => [name, c.snapshot()])),
      }
    },
  }
}
