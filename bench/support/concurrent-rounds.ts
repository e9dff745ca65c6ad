import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Sql } from '../../src/db/client.ts'
import type { LoginLoopSpec, LoopCommand, LoopMessage } from './login-loop-process.ts'
import { processCpuSeconds } from './process-cpu.ts'
import type { ClosedLoopResult } from './stats.ts'

/** One of the variants compared, run at the same time as the others, each in a process of its own. */
export interface ConcurrentVariant {
  name: string
  spec: LoginLoopSpec
}

/** One variant's part of one round: its rate and latencies, and the CPU its attempts used. */
export type Slice = ClosedLoopResult & {
  /** Per attempt: its process, and its connections' PostgreSQL backends. */
  clientMs: number
  backendMs: number
  cpuMs: number
}

interface Loop {
  variant: ConcurrentVariant
  child: ChildProcess
  backendPids: number[]
  next(): Promise<LoopMessage>
}

async function startLoop(variant: ConcurrentVariant): Promise<Loop> {
  const script = fileURLToPath(new URL('./login-loop-process.ts', import.meta.url))
  const child = fork(script, [JSON.stringify(variant.spec)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const queue: LoopMessage[] = []
  const waiting: ((m: LoopMessage) => void)[] = []
  const deliver = (m: LoopMessage) => (waiting.length ? waiting.shift()!(m) : queue.push(m))
  child.on('message', (m: LoopMessage) => deliver(m))
  child.on('exit', (code) => deliver({ kind: 'failed', error: `exited with ${code}` }))
  const next = () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise<LoopMessage>((resolve) => waiting.push(resolve)))
  const ready = await next()
  if (ready.kind !== 'ready') throw new Error(`${variant.name}: ${ready.kind === 'failed' ? ready.error : ready.kind}`)
  return { variant, child, backendPids: ready.backendPids, next }
}

const cpuOf = (pids: number[]) => pids.reduce((s, pid) => s + processCpuSeconds(pid), 0)

/**
 * Runs the variants at the same time, `rounds` times, each round `ms` long after `warmupMs` unmeasured:
 * every variant meets the same load, which on a shared machine changes from one minute to the next, and
 * each variant's CPU is its own process's and its own connections' backends' (from /proc). Returns the
 * slices by round, in the variants' order.
 */
export async function runConcurrentRounds(options: {
  admin: Sql
  variants: ConcurrentVariant[]
  rounds: number
  ms: number
  warmupMs: number
  /** Called between rounds (the round's index before it), e.g. for ANALYZE after an unmeasured first round. */
  beforeRound?: (round: number) => Promise<void>
  log?: (message: string) => void
}): Promise<Slice[][]> {
  const loops = await Promise.all(options.variants.map(startLoop))
  try {
    const byRound: Slice[][] = []
    for (let round = 0; round < options.rounds; round++) {
      await options.beforeRound?.(round)
      const slices = await Promise.all(
        loops.map(async (loop) => {
          loop.child.send({ kind: 'run', warmupMs: options.warmupMs, ms: options.ms } satisfies LoopCommand)
          const measuring = await loop.next()
          if (measuring.kind !== 'measuring') throw new Error(`${loop.variant.name}: ${measuring.kind === 'failed' ? measuring.error : measuring.kind}`)
          const client0 = processCpuSeconds(loop.child.pid!)
          const backends0 = cpuOf(loop.backendPids)
          const done = await loop.next()
          const client = processCpuSeconds(loop.child.pid!) - client0
          const backends = cpuOf(loop.backendPids) - backends0
          if (done.kind !== 'done') throw new Error(`${loop.variant.name}: ${done.kind === 'failed' ? done.error : done.kind}`)
          const r = done.result
          if (r.errors > 0) throw new Error(`${loop.variant.name}: ${r.errors} errors (${r.firstError ?? 'none'})`)
          const clientMs = (client * 1000) / r.ops
          const backendMs = (backends * 1000) / r.ops
          return { ...r, clientMs, backendMs, cpuMs: clientMs + backendMs }
        }),
      )
      for (const [i, s] of slices.entries()) {
        options.log?.(
          `  round ${round + 1} ${options.variants[i]!.name.padEnd(32)} ${s.rate.toFixed(0)} attempts/s, CPU ${s.clientMs.toFixed(3)} + ${s.backendMs.toFixed(3)} ms/attempt (client + PostgreSQL)`,
        )
      }
      byRound.push(slices)
    }
    return byRound
  } finally {
    for (const loop of loops) {
      if (loop.child.exitCode === null) {
        loop.child.send({ kind: 'exit' } satisfies LoopCommand)
      }
    }
    await Promise.all(loops.map((loop) => (loop.child.exitCode === null ? new Promise((resolve) => loop.child.once('exit', resolve)) : null)))
  }
}

/** All rounds of one variant pooled: CPU per attempt over every round, and the rate over their time. */
export function pooled(byRound: Slice[][], variant: number) {
  const slices = byRound.map((r) => r[variant]!)
  const ops = slices.reduce((s, x) => s + x.ops, 0)
  const seconds = slices.reduce((s, x) => s + x.seconds, 0)
  const total = (of: (s: Slice) => number) => slices.reduce((s, x) => s + of(x) * x.ops, 0) / ops
  return { ops, rate: ops / seconds, clientMs: total((s) => s.clientMs), backendMs: total((s) => s.backendMs), cpuMs: total((s) => s.cpuMs) }
}

/** A per-round figure's median and range. */
export function spread(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! }
}
