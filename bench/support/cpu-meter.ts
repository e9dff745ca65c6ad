import { createSql } from '../../src/db/client.ts'
import { BENCH_ADMIN_URL } from './bench-database.ts'
import { processCpuSeconds } from './process-cpu.ts'

export interface CpuReading {
  /** CPU seconds of the PostgreSQL backends serving the benchmark's database. */
  backends: number
  /** CPU seconds of the client processes (the Node process, or pgbench). */
  client: number
  backendCount: number
}

/**
 * Measures where the CPU goes during a run, which stays meaningful on a busy machine where rates do not:
 * the client side (this process via process.cpuUsage, or other processes by pid from /proc) and the
 * PostgreSQL backends connected to one database (found in pg_stat_activity, read from /proc every
 * 100 ms so that a backend's last reading is taken shortly before it exits). Linux only.
 */
export function startCpuMeter(
  database: string,
  clients: { self?: boolean; pids?: () => number[] },
  /**
   * For backends that live for one request (a worker's per-request connections): sample every
   * `intervalMs` and count a backend born during the run from zero, so its start-up is not lost.
   */
  options: { intervalMs?: number; countNewBackendsFromStart?: boolean } = {},
) {
  const admin = createSql(BENCH_ADMIN_URL, { max: 1 })
  const backends = new Map<number, { first: number; last: number }>()
  const others = new Map<number, { first: number; last: number }>()
  const self0 = process.cpuUsage()
  const started = new Date()
  let stopped = false
  const track = (map: Map<number, { first: number; last: number }>, pid: number, bornDuringRun = false) => {
    const cpu = processCpuSeconds(pid)
    if (!Number.isFinite(cpu)) return
    const seen = map.get(pid)
    if (seen) seen.last = cpu
    else map.set(pid, { first: bornDuringRun ? 0 : cpu, last: cpu })
  }
  const sample = async () => {
    const rows = await admin<{ pid: number; backend_start: Date }[]>`
      SELECT pid, backend_start FROM pg_stat_activity WHERE datname = ${database} AND backend_type = 'client backend'`
    for (const { pid, backend_start } of rows) track(backends, pid, options.countNewBackendsFromStart === true && backend_start > started)
    for (const [pid] of backends) track(backends, pid)
    for (const pid of clients.pids?.() ?? []) track(others, pid)
  }
  const loop = (async () => {
    while (!stopped) {
      await sample().catch(() => {})
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 100))
    }
  })()
  return {
    async stop(): Promise<CpuReading> {
      await sample().catch(() => {})
      stopped = true
      await loop
      await admin.end()
      const sum = (m: Map<number, { first: number; last: number }>) => [...m.values()].reduce((s, v) => s + (v.last - v.first), 0)
      const self = clients.self ? (() => {
        const u = process.cpuUsage(self0)
        return (u.user + u.system) / 1e6
      })() : 0
      return { backends: sum(backends), client: self + sum(others), backendCount: backends.size }
    },
  }
}
