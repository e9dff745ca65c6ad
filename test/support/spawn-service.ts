import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** `deno-wasm`: Deno without --allow-ffi, so without native code (argon2id in WebAssembly), as on Deno Deploy. */
export type Runtime = 'node' | 'bun' | 'deno' | 'deno-wasm'

/** The package.json script that starts each runtime: the README's commands are the ones tested. */
export const RUNTIME_SCRIPTS: Record<Runtime, string> = { node: 'start', bun: 'start:bun', deno: 'start:deno', 'deno-wasm': 'start:deno:wasm' }

const BINARIES: Record<string, string> = {
  node: process.execPath,
  bun: `${REPO_ROOT}node_modules/.bin/bun`,
  deno: `${REPO_ROOT}node_modules/.bin/deno`,
}

/**
 * How each runtime starts the service, read from its package.json script. Binaries are spawned directly
 * (not through npm, npx or the tsx CLI, which fork) so that a signal reaches the service itself.
 */
const PACKAGE_SCRIPTS = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts

export const RUNTIME_COMMANDS: Record<Runtime, { command: string; args: string[] }> = Object.fromEntries(
  Object.entries(RUNTIME_SCRIPTS).map(([runtime, script]) => {
    const [binary, ...args] = PACKAGE_SCRIPTS[script]!.split(/\s+/)
    const command = BINARIES[binary!]
    if (command === undefined) throw new Error(`package.json script ${script} starts ${binary}, which the tests do not know`)
    return [runtime, { command, args }]
  }),
) as Record<Runtime, { command: string; args: string[] }>

export { freePort } from '../../src/db/embedded-postgres.ts'

export interface RunningService {
  runtime: Runtime
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>
  /** Resolves once stdout contains `text`; rejects if the process ends first or `timeoutMs` passes. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>
  /** Polls GET /healthz until it answers 200. */
  waitForHealthy(baseUrl: string, timeoutMs?: number): Promise<void>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | string>
}

/**
 * Starts an entrypoint with exactly the given environment (plus PATH and HOME, which the runtimes need
 * for their caches): nothing leaks in from the test process's own environment.
 */
export function spawnService(runtime: Runtime, env: Record<string, string>): RunningService {
  const { command, args } = RUNTIME_COMMANDS[runtime]
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  let ended = false
  void exited.then(() => (ended = true))

  const transcript = () => `${runtime} service\n--- stdout\n${out}\n--- stderr\n${err}`

  async function poll(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (await check()) return
      if (ended) throw new Error(`${what}: the process exited (${await exited})\n${transcript()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`${what}: timed out after ${timeoutMs} ms\n${transcript()}`)
  }

  return {
    runtime,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput: (text, timeoutMs = 60_000) => poll(async () => out.includes(text), `waiting for "${text}"`, timeoutMs),
    waitForHealthy: (baseUrl, timeoutMs = 30_000) =>
      poll(
        () =>
          fetch(`${baseUrl}/healthz`).then(
            (res) => res.ok,
            () => false,
          ),
        'waiting for /healthz',
        timeoutMs,
      ),
    stop: async (graceMs = 5_000) => {
      if (ended) return exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}
