import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { Miniflare } from 'miniflare'
import { buildWorker } from '../../src/runtime/build-worker.ts'
import { REPO_ROOT } from './spawn-service.ts'

/** The deployment settings the worker runs under, read from wrangler.json so that tests run what is deployed. */
interface WranglerConfig {
  compatibility_date: string
  compatibility_flags: string[]
  rules: { type: 'CompiledWasm' | 'ESModule' | 'Text' | 'Data'; globs: string[] }[]
}

let bundle: Promise<{ dir: string; outfile: string }> | null = null

/** Builds the worker once per process, with the same build as `npm run build:worker`, into a temporary folder. */
function builtWorker(): Promise<{ dir: string; outfile: string }> {
  bundle ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authtrail-worker-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const { outfile } = await buildWorker(dir)
    return { dir, outfile }
  })()
  return bundle
}

export interface RunningWorker {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string
  /** The pid of the workerd process that runs the worker (for CPU accounting). */
  workerdPid(): number | null
  /** What the worker wrote to the console (its JSON log lines). */
  output(): string
  dispose(): Promise<void>
}

/**
 * Runs the bundled worker in workerd (Cloudflare's runtime, from the `miniflare` package) behind a real
 * HTTP listener on loopback, with `bindings` as its vars and secrets and `hyperdrives` as Hyperdrive
 * bindings (locally a pass-through to the database named: no pooling). Outbound TCP (PostgreSQL) goes
 * through workerd's own sockets (`cloudflare:sockets`), as on Cloudflare.
 */
export async function startWorker(bindings: Record<string, string>, options: { hyperdrives?: Record<string, string> } = {}): Promise<RunningWorker> {
  const { dir, outfile } = await builtWorker()
  const config = JSON.parse(readFileSync(`${REPO_ROOT}wrangler.json`, 'utf8')) as WranglerConfig
  let output = ''
  let pid: number | null = null
  const mf = new Miniflare({
    modules: true,
    scriptPath: outfile,
    modulesRoot: dir,
    modulesRules: config.rules.map((r) => ({ type: r.type, include: r.globs })),
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    bindings,
    ...(options.hyperdrives && { hyperdrives: options.hyperdrives }),
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.setEncoding('utf8').on('data', (d: string) => (output += d))
      stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    },
  })
  let url: URL
  try {
    url = await mf.ready
  } catch (error) {
    await mf.dispose().catch(() => {})
    throw new Error(`workerd did not start: ${String(error)}\n--- workerd output\n${output}`)
  }
  return {
    baseUrl: url.origin,
    workerdPid: () => (pid ??= findWorkerdPid()),
    output: () => output,
    dispose: () => mf.dispose(),
  }
}

/** The workerd process this Node process started most recently (Miniflare does not expose its pid). Linux only. */
function findWorkerdPid(): number | null {
  const children = readdirSync(`/proc/${process.pid}/task`)
    .flatMap((task) => readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim().split(/\s+/))
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b)
  const workerds = children.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'workerd'
    } catch {
      return false
    }
  })
  return workerds.at(-1) ?? null
}
