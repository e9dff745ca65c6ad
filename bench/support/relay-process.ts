import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface RelayProcess {
  child: ChildProcess
  output(): string
  stop(): Promise<void>
}

/**
 * Starts the production relay command (`authtrail relay`, `npm run relay`) as its own process with exactly
 * the given environment (plus PATH and HOME), and resolves once it logs that it started.
 */
export async function startRelayProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['bin/authtrail.js', 'relay'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + timeoutMs
  while (!out.includes('outbox relay started')) {
    if (child.exitCode !== null) throw new Error(`relay exited during start-up (${child.exitCode}):\n${out}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`relay did not start within ${timeoutMs} ms:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}
