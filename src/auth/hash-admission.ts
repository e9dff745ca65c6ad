/**
 * Bounds the password verifications in flight per address to the failures its budget has left, so that
 * a burst from one address never hashes more passwords than its budget allows: attempts beyond that wait
 * until those in flight are recorded, then look at the budget again (and, if it is spent, are refused
 * without hashing). In-process: several processes each admit up to the budget left.
 */
export interface HashAdmission {
  /** A mark to take before reading the budget that is then given to `admit`. */
  observe(): number
  /**
   * Admits one verification for `key` while fewer than `remaining` are in flight; otherwise waits for one
   * to be released and asks `reread` for the budget left. `remaining` was read after `observedAt`
   * (observe()): if a verification of the key was recorded since, it is read again. Null when none is
   * left: do not hash. `onWait` is called before each wait (the caller gives back what it holds meanwhile).
   */
  admit(key: string, remaining: number, observedAt: number, reread: () => Promise<number>, onWait?: () => void): Promise<AdmissionTicket | null>
}

export interface AdmissionTicket {
  /** Call once the attempt's verification has been recorded (or abandoned). */
  release(): void
}

interface KeyState {
  inFlight: number
  waiters: (() => void)[]
  /** The mark of the last release. */
  lastRelease: number
  idleSince: number | null
}

/** Idle keys are forgotten this long after their last release (far longer than reading a budget takes). */
const IDLE_MS = 60_000
const SWEEP_EVERY = 1024

export function createHashAdmission(now: () => number = Date.now): HashAdmission {
  const keys = new Map<string, KeyState>()
  let mark = 0
  let lastForgotten = 0

  function sweep() {
    const before = now() - IDLE_MS
    for (const [key, entry] of keys) {
      if (entry.idleSince !== null && entry.idleSince < before) {
        keys.delete(key)
        lastForgotten = mark
      }
    }
  }

  return {
    observe: () => mark,
    async admit(key, remaining, observedAt, reread, onWait) {
      for (;;) {
        let entry = keys.get(key)
        if ((entry?.lastRelease ?? lastForgotten) > observedAt) {
          // Verifications were recorded since the budget was read: it is smaller now.
          observedAt = mark
          remaining = await reread()
          continue
        }
        if (remaining <= 0) return null
        if (!entry) keys.set(key, (entry = { inFlight: 0, waiters: [], lastRelease: 0, idleSince: null }))
        if (entry.inFlight < remaining) {
          entry.inFlight++
          entry.idleSince = null
          const held = entry
          let released = false
          return {
            release() {
              if (released) return
              released = true
              held.inFlight--
              held.lastRelease = ++mark
              if (held.inFlight === 0) held.idleSince = now()
              for (const wake of held.waiters.splice(0)) wake()
              if (mark % SWEEP_EVERY === 0) sweep()
            },
          }
        }
        const waitingOn = entry
        onWait?.()
        await new Promise<void>((resolve) => waitingOn.waiters.push(resolve))
      }
    },
  }
}
