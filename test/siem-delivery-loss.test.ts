import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { getRelayStatus } from '../src/outbox/relay-status.ts'
import { createSyslogSink } from '../src/sinks/syslog/index.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { startRsyslog, type RsyslogReceiver } from './support/rsyslog.ts'
import { createTestApp, postJson, seedTenant, type TestApp } from './support/test-app.ts'
import { until } from './support/until.ts'

/**
 * The relay under steady logins, its receiver (a real rsyslog) stopped, killed or stalled in the middle:
 * every event written to auth_logs is looked for in what rsyslog wrote, by its CEF externalId. RELP must
 * lose nothing; TCP and UDP report what they lost (the README's table of delivery guarantees).
 */

const TRANSPORTS = ['relp', 'tcp', 'udp'] as const
type Transport = (typeof TRANSPORTS)[number]

const FAULTS = {
  'graceful stop': async (rx: RsyslogReceiver) => {
    await rx.stop()
    await new Promise((r) => setTimeout(r, 1_000))
    await rx.restart()
  },
  'kill -9': async (rx: RsyslogReceiver) => {
    await rx.kill()
    await new Promise((r) => setTimeout(r, 1_000))
    await rx.restart()
  },
  stall: async (rx: RsyslogReceiver) => {
    rx.pause()
    await new Promise((r) => setTimeout(r, 2_000))
    rx.resume()
  },
} as const
type Fault = keyof typeof FAULTS

let db: TestDatabase
let rx: RsyslogReceiver
let t: TestApp
const results: { transport: Transport; fault: Fault; events: number; lost: number; duplicated: number }[] = []

beforeAll(async () => {
  ;[db, rx] = await Promise.all([createTestDatabase('siem_delivery_loss'), startRsyslog()])
  t = await createTestApp(db.sql)
}, 60_000)

afterAll(async () => {
  rx?.resume()
  console.info(`SIEM delivery under faults:\n${results.map((r) => `  ${r.transport} ${r.fault}: ${r.events} events, ${r.lost} lost, ${r.duplicated} duplicated`).join('\n')}`)
  await rx?.dispose()
  await db?.drop()
})

function urlOf(transport: Transport): string {
  return { relp: rx.relpUrl, tcp: rx.tcpUrl, udp: rx.udpUrl }[transport]
}

let scenario = 0

describe.each(TRANSPORTS)('over %s, logins continuing while rsyslog fails', (transport) => {
  it.each(Object.keys(FAULTS) as Fault[])('%s: every event is counted at the receiver', async (fault) => {
    const slug = `loss-${transport}-${++scenario}`
    const users = ['ann', 'ben', 'cid', 'dee'].map((n) => ({ identifier: `${n}@${slug}.test` }))
    const tenant = await seedTenant(db.sql, { slug, users })
    const sink = createSyslogSink({
      url: urlOf(transport),
      hostname: 'authtrail-test',
      connectTimeoutMs: 500,
      ackTimeoutMs: 500,
      firstWriteSettleMs: 50,
    })
    const relay = createOutboxRelay({
      sql: db.sql,
      sinks: [sink],
      pollIntervalMs: 50,
      minPollIntervalMs: 5,
      batchSize: 50,
      maxAttempts: 1_000,
      backoff: { baseMs: 50, maxMs: 250 },
      deliveryTimeoutMs: 3_000,
      listen: false,
    })
    await relay.start()
    try {
      // Steady logins, two at a time, half of them with a wrong password, until told to stop.
      let logging = true
      let attempts = 0
      const loginLoop = async (worker: number) => {
        for (let i = worker; logging; i += 2) {
          const user = users[i % users.length]!.identifier
          const password = i % 2 === 0 ? tenant.users[user]!.password : 'wrong-password'
          const res = await postJson(t.app, '/v1/auth/login', { tenant: slug, identifier: user, password })
          expect([200, 401, 423, 429]).toContain(res.status)
          attempts++
        }
      }
      const logins = Promise.all([loginLoop(0), loginLoop(1)])
      await until(() => attempts >= 20, 30_000, 'logins before the fault')
      await FAULTS[fault](rx)
      const after = attempts
      await until(() => attempts >= after + 20, 30_000, 'logins after the fault')
      logging = false
      await logins

      await until(async () => (await getRelayStatus(db.sql, { tenantId: tenant.tenant.id, sinks: ['syslog'] }))[0]!.undelivered === 0, 60_000, 'the relay to pass every event')
      const ids = (await db.sql<{ id: string }[]>`SELECT id FROM auth_logs WHERE tenant_id = ${tenant.tenant.id}`).map((r) => r.id)
      // TCP and UDP: rsyslog may still be writing what it read; wait for the count to settle.
      const seen = new Map<string, number>()
      const collect = () => {
        seen.clear()
        const marker = ` cs1=${tenant.tenant.id} `
        for (const line of rx.readLines()) {
          if (!line.includes(marker)) continue
          const id = /externalId=(\S+)/.exec(line)?.[1]
          if (id !== undefined) seen.set(id, (seen.get(id) ?? 0) + 1)
        }
        return seen.size
      }
      let last = -1
      await until(() => {
        const now = collect()
        const settled = now === last || now === ids.length
        last = now
        return settled
      }, 30_000, 'the receiver to settle', 500)
      const lost = ids.filter((id) => !seen.has(id)).length
      const duplicated = [...seen.values()].filter((n) => n > 1).length
      results.push({ transport, fault, events: ids.length, lost, duplicated })
      console.info(`${transport}, ${fault}: ${ids.length} events, ${lost} lost, ${duplicated} duplicated`)
      expect(ids.length).toBeGreaterThanOrEqual(40)
      if (transport === 'relp') expect(lost).toBe(0)
    } finally {
      await relay.stop()
      await sink.close()
    }
  }, 180_000)
})
