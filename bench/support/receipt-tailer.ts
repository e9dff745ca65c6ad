import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'

/**
 * Follows rsyslog's capture file and stamps each line with the time this process first saw it
 * (`performance.now()`, polled every `intervalMs`): the receipt time of a message, to within the
 * polling interval. `key` extracts what identifies a line (the CEF externalId, the event id).
 */
export function tailReceipts(file: string, key: (line: string) => string | null, intervalMs = 5) {
  const receipts = new Map<string, number>()
  let offset = existsSync(file) ? statSync(file).size : 0
  let partial = ''
  let lines = 0
  const buffer = Buffer.allocUnsafe(1 << 20)
  const poll = () => {
    const now = performance.now()
    if (!existsSync(file)) return
    const fd = openSync(file, 'r')
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, offset)
        if (n === 0) break
        offset += n
        const text = partial + buffer.toString('utf8', 0, n)
        const parts = text.split('\n')
        partial = parts.pop()!
        for (const line of parts) {
          lines++
          const k = key(line)
          if (k !== null && !receipts.has(k)) receipts.set(k, now)
        }
      }
    } finally {
      closeSync(fd)
    }
  }
  const timer = setInterval(poll, intervalMs)
  return {
    receipts,
    lines: () => lines,
    poll,
    stop: () => clearInterval(timer),
  }
}

/** The event id a CEF message carries in its `externalId` extension. */
export function cefExternalId(line: string): string | null {
  return /externalId=([0-9a-f-]{36})/.exec(line)?.[1] ?? null
}
