/** Latency samples in milliseconds, summarised. */
export interface LatencySummary {
  count: number
  p50: number
  p99: number
  max: number
  mean: number
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

export function summarise(samplesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  }
}

/** A growable list of float samples that does not allocate per sample. */
export class SampleBuffer {
  private data = new Float64Array(1 << 14)
  length = 0
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.length++] = v
  }
  values(): Float64Array {
    return this.data.subarray(0, this.length)
  }
}

export interface ClosedLoopResult {
  /** Completed operations per second over the measured window. */
  rate: number
  ops: number
  errors: number
  seconds: number
  latency: LatencySummary
  firstError?: string
}

/**
 * Runs `clients` async loops, each calling `operation(client, i)` back to back (a closed loop, like
 * pgbench's clients), for `warmupMs` unmeasured and then `durationMs` measured. Operations that start
 * in the measured window and finish after it still count, as pgbench counts them.
 */
export async function runClosedLoop(
  clients: number,
  durationMs: number,
  operation: (client: number, iteration: number) => Promise<unknown>,
  options: { warmupMs?: number; onMeasureStart?: () => void } = {},
): Promise<ClosedLoopResult> {
  const warmupMs = options.warmupMs ?? 0
  const start = performance.now()
  const measureFrom = start + warmupMs
  const startTimer = setTimeout(() => options.onMeasureStart?.(), warmupMs)
  const stopAt = measureFrom + durationMs
  const samples = new SampleBuffer()
  let errors = 0
  let firstError: string | undefined
  let lastEnd = measureFrom
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let i = 0; ; i++) {
      const t0 = performance.now()
      if (t0 >= stopAt) return
      try {
        await operation(client, i)
      } catch (error) {
        // A failed operation ends its client's loop: a broken connection must not spin, and any error fails the run anyway.
        errors++
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
        return
      }
      const t1 = performance.now()
      if (t0 >= measureFrom) {
        samples.push(t1 - t0)
        if (t1 > lastEnd) lastEnd = t1
      }
    }
  })
  await Promise.all(loops)
  clearTimeout(startTimer)
  const seconds = Math.max(durationMs, lastEnd - measureFrom) / 1000
  return {
    rate: samples.length / seconds,
    ops: samples.length,
    errors,
    seconds,
    latency: summarise(samples.values()),
    ...(firstError !== undefined && { firstError }),
  }
}

/** Runs `total` operations over `clients` loops (each takes the next index) and measures them all. */
export async function runFixedCount(
  clients: number,
  total: number,
  operation: (client: number, index: number) => Promise<unknown>,
): Promise<ClosedLoopResult> {
  const samples = new SampleBuffer()
  let next = 0
  let errors = 0
  let firstError: string | undefined
  const start = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (;;) {
        const index = next++
        if (index >= total) return
        const t0 = performance.now()
        try {
          await operation(client, index)
          samples.push(performance.now() - t0)
        } catch (error) {
          errors++
          firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
          return
        }
      }
    }),
  )
  const seconds = (performance.now() - start) / 1000
  return {
    rate: samples.length / seconds,
    ops: samples.length,
    errors,
    seconds,
    latency: summarise(samples.values()),
    ...(firstError !== undefined && { firstError }),
  }
}
