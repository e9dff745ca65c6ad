import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getRelayStatus } from '../src/outbox/relay-status.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'
import { until } from './support/until.ts'

const CHILD = fileURLToPath(new URL('./support/relay-child.ts', import.meta.url))
const BATCH_SIZE = 20

let db: TestDatabase
let dir: string
const children = new Set<ChildProcess>()
beforeAll(async () => {
  db = await createTestDatabase('relay_sigkill')
  dir = mkdtempSync(join(tmpdir(), 'authtrail-relay-kill-'))
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await db?.drop()
  rmSync(dir, { recursive: true, force: true })
})

interface Line {
  eventId: string
  chain: string
  seq: number
  pid: number
}

function readLines(file: string): Line[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.split(' ').length === 4)
    .map((l) => {
      const [eventId, chain, seq, pid] = l.split(' ')
      return { eventId: eventId!, chain: chain!, seq: Number(seq), pid: Number(pid) }
    })
}

async function startRelayProcess(outFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, RELAY_DATABASE_URL: db.url, RELAY_OUT_FILE: outFile, RELAY_BATCH_SIZE: String(BATCH_SIZE), RELAY_EVENT_DELAY_MS: '8' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay process exited early (${code})`)))
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve())
  })
  return child
}


describe('a relay process killed with SIGKILL in the middle of a batch', () => {
  it('loses nothing on restart, and re-sends only the batch that was in flight', async () => {
    const tenant = await createChainTenant(db.sql)
    const ids = [...(await appendEvents(db.sql, tenant, 0, 60)), ...(await appendEvents(db.sql, tenant, 1, 60))]
    const outFile = join(dir, 'delivered.log')

    const first = await startRelayProcess(outFile)
    // Kill once a few batches went through and the current one is part-written.
    await until(() => {
      const n = readLines(outFile).length
      return n >= 2 * BATCH_SIZE + 5 && n % BATCH_SIZE >= 4 && n % BATCH_SIZE <= BATCH_SIZE - 4
    }, 20_000, 'the first relay to be mid-batch', 2)
    first.kill('SIGKILL')
    await new Promise((r) => first.once('exit', r))
    const beforeRestart = readLines(outFile)

    // The dead backend's transaction rolls back: its cursors are exactly where the last commit left them.
    await until(async () => (await db.sql`SELECT 1 FROM pg_stat_activity WHERE datname = ${db.name} AND state = 'idle in transaction'`).length === 0, 5_000, 'the killed transaction to end', 2)
    const cursorAtKill = new Map(
      (await db.sql<{ shard: number; delivered_seq: number }[]>`
        SELECT shard, delivered_seq FROM outbox_cursors WHERE sink = 'syslog' AND tenant_id = ${tenant.id}`).map((c) => [`${tenant.id}/${c.shard}`, c.delivered_seq]),
    )
    const inFlight = beforeRestart.filter((l) => l.seq > (cursorAtKill.get(l.chain) ?? 0))
    expect(inFlight.length).toBeGreaterThan(0)
    expect(inFlight.length).toBeLessThan(BATCH_SIZE)

    const second = await startRelayProcess(outFile)
    await until(async () => (await getRelayStatus(db.sql, { tenantId: tenant.id, sinks: ['syslog'] }))[0]!.undelivered === 0, 20_000, 'the restarted relay to catch up', 2)
    second.kill('SIGTERM')
    await new Promise((r) => second.once('exit', r))

    const lines = readLines(outFile)
    const counts = new Map<string, number>()
    for (const l of lines) counts.set(l.eventId, (counts.get(l.eventId) ?? 0) + 1)
    // At least once: every event arrived.
    expect(ids.filter((id) => !counts.has(id))).toEqual([])
    // The only duplicates are the in-flight batch's events, each sent exactly twice.
    const duplicated = [...counts].filter(([, n]) => n > 1)
    expect(duplicated.map(([id]) => id).sort()).toEqual(inFlight.map((l) => l.eventId).sort())
    expect(duplicated.every(([, n]) => n === 2)).toBe(true)
    // The restarted relay resumed each chain right after its cursor, in order.
    const resumed = lines.filter((l) => l.pid === second.pid)
    for (const [chain, seq] of cursorAtKill) {
      const seqs = resumed.filter((l) => l.chain === chain).map((l) => l.seq)
      expect(seqs).toEqual(Array.from({ length: 60 - seq }, (_, i) => seq + 1 + i))
    }
  })
})
