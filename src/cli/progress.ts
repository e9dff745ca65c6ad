import cliProgress from 'cli-progress'

/** How far a long run has got: counted up as work is done, stopped (always) when it ends. */
export interface Progress {
  increment(by: number): void
  /** When the amount of work becomes known, or turns out different. */
  setTotal(total: number): void
  stop(): void
}

export interface ProgressOptions {
  /** Where the bar goes; stderr by default, so that stdout (and --json) stays the command's result. */
  stream?: NodeJS.WriteStream
  /** Lines apart when the stream is not a terminal; 2 s by default. */
  plainIntervalMs?: number
}

/**
 * A progress bar with rate and time left (cli-progress) on a terminal, and a plain line every 2 s
 * when the output is not one (a log file, CI, a pipe), so a run of minutes is never silent.
 *
 * @example
 * const progress = createProgress('verify', 'events', total)
 * try { for (const page of pages) progress.increment(page.length) } finally { progress.stop() }
 */
export function createProgress(label: string, unit: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr
  // Nothing to do, nothing to show.
  if (total <= 0) return { increment() {}, setTotal() {}, stop() {} }
  const started = Date.now()
  let value = 0
  const rate = () => {
    const seconds = (Date.now() - started) / 1000
    return seconds > 0 ? Math.round(value / seconds) : 0
  }
  const bar = new cliProgress.SingleBar(
    {
      // Plain lines carry no bar: they end up in logs.
      format: stream.isTTY === true ? `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}` : `${label}: {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
      stream,
      noTTYOutput: true,
      notTTYSchedule: options.plainIntervalMs ?? 2000,
      // On a terminal the finished bar stays; plain output just ends with its last line.
      clearOnComplete: stream.isTTY !== true,
      hideCursor: stream.isTTY === true,
      etaBuffer: 50,
      gracefulExit: true,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(Math.max(total, 0), 0, { rate: 0 })
  return {
    increment(by) {
      value += by
      // A total that was an estimate never shows more than 100 %.
      if (value > bar.getTotal()) bar.setTotal(value)
      bar.update(value, { rate: rate() })
    },
    setTotal(next) {
      bar.setTotal(Math.max(next, value))
    },
    stop() {
      bar.update(value, { rate: rate() })
      bar.stop()
    },
  }
}
