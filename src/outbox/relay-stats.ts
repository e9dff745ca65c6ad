/** In-process counters of one relay instance for one sink, since it was created. */
export interface SinkCounters {
  delivered: number
  batches: number
  failures: number
  deadLettered: number
  /** Delivered events per second over the last {@link RATE_WINDOW_MS}. */
  eventsPerSecond: number
  lastError: string | null
  lastDeliveryAt: string | null
}

export interface RelayStats {
  running: boolean
  startedAt: string | null
  compactedRows: number
  sinks: Record<string, SinkCounters>
}

export const RATE_WINDOW_MS = 10_000

/** Counters for one sink with a sliding-window delivery rate. */
export function createSinkCounters(now: () => number = Date.now) {
  const counters = { delivered: 0, batches: 0, failures: 0, deadLettered: 0, lastError: null as string | null, lastDeliveryAt: null as string | null }
  const window: { at: number; n: number }[] = []
  const createdAt = now()

  const prune = (t: number) => {
    while (window.length > 0 && window[0]!.at < t - RATE_WINDOW_MS) window.shift()
  }

  return {
    record(report: { delivered: number; batches: number; failures: number; deadLettered: number; lastError?: string }) {
      const t = now()
      counters.delivered += report.delivered
      counters.batches += report.batches
      counters.failures += report.failures
      counters.deadLettered += report.deadLettered
      if (report.lastError !== undefined) counters.lastError = report.lastError
      if (report.delivered > 0) {
        counters.lastDeliveryAt = new Date(t).toISOString()
        window.push({ at: t, n: report.delivered })
      }
      prune(t)
    },
    snapshot(): SinkCounters {
      const t = now()
      prune(t)
      const span = Math.min(RATE_WINDOW_MS, Math.max(1, t - createdAt)) / 1000
      const recent = window.reduce((sum, w) => sum + w.n, 0)
      return { ...counters, eventsPerSecond: Math.round((recent / span) * 10) / 10 }
    },
  }
}
