import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { freePort, spawnService, type RunningService } from './support/spawn-service.ts'

// The README's main command on a machine with only Node: no DATABASE_URL, so the service runs on embedded
// PGlite in DATA_DIR, migrates, seeds the demo tenant and prints how to log in. We run what it prints.

let service: RunningService | undefined
let dataDir: string | undefined

afterAll(async () => {
  await service?.stop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

/** Reads the curl command of the banner back into a request: URL, headers and body exactly as printed. */
function parsePrintedCurl(stdout: string): { url: string; headers: Record<string, string>; body: string } {
  const command = stdout.slice(stdout.indexOf('curl ')).replace(/\\\n\s*/g, ' ').split('\n')[0]!
  const url = /-X POST (\S+)/.exec(command)?.[1]
  const body = /-d '([^']*)'/.exec(command)?.[1]
  const headers = Object.fromEntries([...command.matchAll(/-H '([^:']+):\s*([^']*)'/g)].map((m) => [m[1]!, m[2]!]))
  if (!url || body === undefined) throw new Error(`no curl command in the banner:\n${stdout}`)
  return { url, headers, body }
}

it('starts on embedded PostgreSQL without DATABASE_URL and the printed demo login succeeds', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'authtrail-embedded-'))
  const port = await freePort()
  service = spawnService('node', { AUTHTRAIL_ENV: 'development', DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port) })
  await service.waitForOutput("-d '", 90_000)

  const printed = parsePrintedCurl(service.stdout())
  expect(printed.url).toBe(`http://127.0.0.1:${port}/v1/auth/login`)
  const res = await fetch(printed.url, { method: 'POST', headers: printed.headers, body: printed.body })
  expect(res.status).toBe(200)
  const body = (await res.json()) as { token_type: string; access_token: string; event_id: string }
  expect(body.token_type).toBe('Bearer')
  expect(body.access_token.split('.')).toHaveLength(3)
  expect(body.event_id).toMatch(/^[0-9a-f-]{36}$/)

  expect(await service.stop()).toBe(0)
}, 120_000)
