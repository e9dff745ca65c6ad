/** A background job run in rounds, every `tickMs`, until stopped (the checkpointer, the rollup folder). */
export interface PeriodicRounds {
  /** Runs a round every `tickMs` until stopped. */
  start(): void
  /** Stops the loop and waits for a round under way. */
  stop(): Promise<void>
}

/**
 * Runs `round` every `tickMs` after the previous one ended. A failed round is logged (`failed`, with the
 * error's name and message) and the next tick tries again; `done` says what a round did, or null for
 * nothing worth a line.
 *
 * @example
 * const folder = periodicRounds({ tickMs: 60_000, round: () => foldIncidentRollups(sql, options), log,
 *   done: (r) => (r.hours > 0 ? { msg: 'incident rollups folded', hours: r.hours } : null), failed: 'incident rollup fold failed' })
 * folder.start()
 */
export function periodicRounds<T>(deps: {
  tickMs: number
  round: () => Promise<T>
  done: (result: T) => Record<string, unknown> | null
  failed: string
  log: (entry: Record<string, unknown>) => void
}): PeriodicRounds {
  let timer: ReturnType<typeof setTimeout> | null = null
  let running = false
  let current: Promise<unknown> = Promise.resolve()
  const round = async () => {
    try {
      const line = deps.done(await deps.round())
      if (line) deps.log({ level: 'info', ...line })
    } catch (error) {
      deps.log({ level: 'error', msg: deps.failed, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
    }
  }
  const schedule = () => {
    if (!running) return
    timer = setTimeout(() => {
      current = round().finally(schedule)
    }, deps.tickMs)
  }
  return {
    start() {
      if (running) return
      running = true
      schedule()
    },
    async stop() {
      running = false
      if (timer) clearTimeout(timer)
      await current
    },
  }
}
