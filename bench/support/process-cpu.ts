import { readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100

/**
 * CPU seconds a process has used so far (user + system, all its threads), from /proc. Linux only;
 * NaN elsewhere. Clock-tick resolution (10 ms), so only meaningful over seconds.
 */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return Number.NaN
  }
}
