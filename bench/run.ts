/**
 * `npm run bench` — runs every benchmark (or `--only=name[,name]`), prints each table with its baseline
 * and ratio, and writes bench/results/<date>-<sha>.json and .md (plus latest.md after a complete full run).
 *
 *   tsx bench/run.ts [--quick] [--full] [--only=write-path,hash-chain] [--clients=16] [--events=1000000]
 *
 * --quick: short runs and smaller data, for checking the harness (figures are not comparable).
 * --full:  also the opt-in parts too slow for the 10-minute budget (the 10M-event query benchmark).
 * --clients=n[,n]: the write path's client counts only (for profiling one of them).
 * --events=n: the chain size of verify-anchors (1,000,000 by default, 100,000 with --quick).
 *
 * To profile the Node side: node --cpu-prof --cpu-prof-dir=bench/results/artefacts/profiles --import tsx
 * bench/run.ts --only=write-path --clients=16, then tsx bench/summarise-cpu-profile.ts <file>.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createSql } from '../src/db/client.ts'
import { auditOverheadBenchmark } from './audit-overhead.ts'
import { checkpointsBenchmark } from './checkpoints.ts'
import { consoleBenchmark } from './console.ts'
import { hashChainBenchmark } from './hash-chain.ts'
import { ipThrottleBenchmark } from './ip-throttle.ts'
import { queriesBenchmark } from './queries.ts'
import { relayBenchmark } from './relay.ts'
import { relayPipelineBenchmark } from './relay-pipeline.ts'
import { sessionsBenchmark } from './sessions.ts'
import { syslogFramingBenchmark } from './syslog-framing.ts'
import { unattributedBenchmark } from './unattributed.ts'
import { verificationBenchmark } from './verification.ts'
import { BENCH_ADMIN_URL, dropAllBenchDatabases } from './support/bench-database.ts'
import { figureLine, figuresTable, markdownTable, textTable, type Benchmark, type BenchmarkResult } from './support/report.ts'
import { verifyAnchorsBenchmark } from './verify-anchors.ts'
import { wasmArgon2idBenchmark } from './wasm-argon2id.ts'
import { writePathBenchmark } from './write-path.ts'

const BENCHMARKS: Benchmark[] = [writePathBenchmark, ipThrottleBenchmark, auditOverheadBenchmark, wasmArgon2idBenchmark, hashChainBenchmark, verificationBenchmark, checkpointsBenchmark, verifyAnchorsBenchmark, relayBenchmark, relayPipelineBenchmark, syslogFramingBenchmark, queriesBenchmark, consoleBenchmark, sessionsBenchmark, unattributedBenchmark]

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))
const ARTEFACT_DIR = `${RESULTS_DIR}artefacts/`

interface Options {
  quick: boolean
  full: boolean
  only: string[] | null
  clients: number[] | null
  events: number | null
}

function parseArgs(argv: string[]): Options {
  const options: Options = { quick: false, full: false, only: null, clients: null, events: null }
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true
    else if (arg === '--full') options.full = true
    else if (arg.startsWith('--only=')) options.only = arg.slice('--only='.length).split(',').filter(Boolean)
    else if (arg.startsWith('--clients=')) options.clients = arg.slice('--clients='.length).split(',').map(Number)
    else if (/^--events=\d+$/.test(arg) && Number(arg.slice('--events='.length)) >= 1000) options.events = Number(arg.slice('--events='.length))
    else throw new Error(`unknown argument ${arg} (expected --quick, --full, --only=name[,name], --clients=n[,n], --events=n (at least 1000); names: ${BENCHMARKS.map((b) => b.name).join(', ')})`)
  }
  const unknown = options.only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? []
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; names: ${BENCHMARKS.map((b) => b.name).join(', ')}`)
  return options
}

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

/** What the figures were measured on; the README's table quotes it. */
async function describeMachine() {
  const sql = createSql(BENCH_ADMIN_URL, { max: 1 })
  try {
    const [version] = await sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`
    const settings = await sql<{ name: string; setting: string }[]>`
      SELECT name, current_setting(name) AS setting FROM pg_settings
      WHERE name IN ('shared_buffers', 'max_connections', 'synchronous_commit', 'fsync', 'wal_level', 'max_wal_size',
                     'checkpoint_timeout', 'work_mem', 'effective_cache_size', 'jit', 'shared_preload_libraries')
      ORDER BY name`
    const cpu = cpus()
    return {
      cores: cpu.length,
      cpu: cpu[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: version!.v,
      postgresSettings: Object.fromEntries(settings.map((s) => [s.name, s.setting || "''"])),
    }
  } finally {
    await sql.end()
  }
}

function elapsed(since: number): string {
  const s = Math.round((performance.now() - since) / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2))
  const selected = BENCHMARKS.filter((b) => options.only === null || options.only.includes(b.name))
  mkdirSync(ARTEFACT_DIR, { recursive: true })
  const machine = await describeMachine()
  const sha = git('rev-parse', '--short', 'HEAD')
  const dirty = git('status', '--porcelain', '--', 'src', 'migrations') !== ''
  const started = performance.now()
  const date = new Date().toISOString().slice(0, 10)
  console.log(`authtrail benchmarks ${options.quick ? '(quick: harness check, figures not comparable) ' : ''}at ${sha}${dirty ? ' (src/ has uncommitted changes)' : ''}`)
  console.log(`${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres}\n`)

  const results: BenchmarkResult[] = []
  for (const [i, benchmark] of selected.entries()) {
    const t0 = performance.now()
    console.log(`[${elapsed(started)}] ${i + 1}/${selected.length} ${benchmark.title}`)
    let result: BenchmarkResult
    try {
      const outcome = await benchmark.run({
        quick: options.quick,
        full: options.full,
        clients: options.clients,
        events: options.events,
        artefactDir: ARTEFACT_DIR,
        log: (message) => console.log(`[${elapsed(started)}]   ${message}`),
      })
      result = { name: benchmark.name, title: benchmark.title, seconds: (performance.now() - t0) / 1000, ...outcome }
    } catch (error) {
      result = {
        name: benchmark.name,
        title: benchmark.title,
        seconds: (performance.now() - t0) / 1000,
        tables: [],
        figures: [],
        notes: [],
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }
    } finally {
      await dropAllBenchDatabases()
    }
    results.push(result)
    if (result.skipped) console.log(`  skipped: ${result.skipped}`)
    if (result.error) console.log(`  FAILED: ${result.error}`)
    for (const table of result.tables) console.log(`\n${textTable(table)}`)
    for (const figure of result.figures) console.log(`  ${figureLine(figure)}`)
    console.log(`  (${result.seconds.toFixed(0)} s)\n`)
  }

  const totalSeconds = (performance.now() - started) / 1000
  const report = { date, sha, dirty, mode: options.quick ? 'quick' : options.full ? 'full+opt-in' : 'full', totalSeconds, machine, results }
  const base = `${date}-${sha}${options.quick ? '-quick' : options.full ? '-full' : ''}${options.only ? `-${options.only.join('+')}` : ''}`
  const markdown = renderMarkdown(report)
  writeFileSync(`${RESULTS_DIR}${base}.json`, `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(`${RESULTS_DIR}${base}.md`, markdown)
  if (!options.quick && options.only === null) writeFileSync(`${RESULTS_DIR}latest.md`, markdown)
  console.log(textTable(figuresTable(results)))
  console.log(`\nwrote bench/results/${base}.json and .md${!options.quick && options.only === null ? ', bench/results/latest.md' : ''} (${totalSeconds.toFixed(0)} s in all)`)
  return results.some((r) => r.error) ? 1 : 0
}

function renderMarkdown(report: { date: string; sha: string; dirty: boolean; mode: string; totalSeconds: number; machine: Awaited<ReturnType<typeof describeMachine>>; results: BenchmarkResult[] }): string {
  const m = report.machine
  const lines = [
    `# Benchmarks ${report.date} at ${report.sha}${report.dirty ? ' (uncommitted changes in src/)' : ''} — ${report.mode} run, ${Math.round(report.totalSeconds)} s`,
    '',
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB RAM, Node ${m.node}, PostgreSQL ${m.postgres} (${Object.entries(m.postgresSettings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}).`,
    '',
    markdownTable(figuresTable(report.results)),
    '',
  ]
  for (const r of report.results) {
    lines.push(`## ${r.title} (\`${r.name}\`, ${Math.round(r.seconds)} s)`, '')
    if (r.skipped) lines.push(`Skipped: ${r.skipped}`, '')
    if (r.error) lines.push('Failed:', '', '```', r.error, '```', '')
    for (const t of r.tables) lines.push(markdownTable(t), '')
    for (const f of r.figures) lines.push(`- ${figureLine(f)}`)
    if (r.figures.length) lines.push('')
    for (const n of r.notes) lines.push(`- ${n}`)
    if (r.notes.length) lines.push('')
  }
  return `${lines.join('\n')}\n`
}

const stop = () => {
  void dropAllBenchDatabases().finally(() => process.exit(130))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.exitCode = await main()
