import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { summarise, type ClosedLoopResult } from './stats.ts'

export const PGBENCH = process.env.PGBENCH ?? '/usr/bin/pgbench'

export interface PgbenchOptions {
  /** postgres:// URL of the database to run against. */
  url: string
  scriptFile: string
  clients: number
  /** pgbench worker threads (capped at `clients`). */
  threads: number
  seconds: number
  /** `-D name=value` variables. */
  defines: Record<string, string>
  /** Called with pgbench's pid once it runs. */
  onStart?: (pid: number) => void
}

/**
 * Runs pgbench with a custom script in prepared mode (`-M prepared`) and per-transaction logging, and
 * returns the same summary as the service-side loops: transactions per second (pgbench's own figure,
 * without connection time), and p50/p99 from the per-transaction latencies it logged.
 */
export async function runPgbench(options: PgbenchOptions): Promise<ClosedLoopResult & { stdout: string }> {
  const u = new URL(options.url)
  const logDir = mkdtempSync(join(tmpdir(), 'authtrail-pgbench-'))
  const args = [
    '-n', // no vacuum of pgbench's own tables: we have none
    '-M', 'prepared',
    '-c', String(options.clients),
    '-j', String(Math.min(options.threads, options.clients)),
    '-T', String(options.seconds),
    '-f', options.scriptFile,
    '-l', `--log-prefix=${join(logDir, 'tx')}`,
    '-h', u.hostname,
    '-p', u.port || '5432',
    '-U', decodeURIComponent(u.username || 'postgres'),
    ...Object.entries(options.defines).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
    u.pathname.slice(1),
  ]
  try {
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = execFile(PGBENCH, args, { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PGAPPNAME: 'authtrail-bench-pgbench' } }, (error, stdout, stderr) =>
        error ? reject(Object.assign(error, { stderr })) : resolve({ stdout, stderr }),
      )
      if (child.pid !== undefined) options.onStart?.(child.pid)
    })
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? Number.NaN)
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0)
    if (/aborted|error/i.test(stderr)) throw new Error(`pgbench reported errors:\n${stderr.slice(0, 2000)}`)
    // Per-transaction log lines: client_id transaction_no time_us script_no time_epoch time_us_part
    const latencies: number[] = []
    for (const file of readdirSync(logDir)) {
      for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
        const micros = Number(line.split(' ')[2])
        if (line && Number.isFinite(micros)) latencies.push(micros / 1000)
      }
    }
    return { rate: tps, ops: latencies.length, errors: failed, seconds: options.seconds, latency: summarise(latencies), stdout }
  } finally {
    rmSync(logDir, { recursive: true, force: true })
  }
}
