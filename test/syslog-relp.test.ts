import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxPayload } from '../src/core/auth-event.ts'
import { formatSyslog5424 } from '../src/core/syslog-5424.ts'
import type { EventSink } from '../src/sinks/event-sink.ts'
import { createSyslogSink, type SyslogSinkOptions } from '../src/sinks/syslog/index.ts'
import { parseCefWithLognormalizer } from './support/lognormalizer.ts'
import { startRsyslog, type RsyslogReceiver } from './support/rsyslog.ts'
import { linesOfTenant, makeBatch } from './support/syslog-batches.ts'

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }
const header = { hostname: 'authtrail-test', appName: 'authtrail', procId: '4242' }
const expectedLines = (batch: OutboxPayload[]) => batch.map((p) => formatSyslog5424(p, device, header))

let rx: RsyslogReceiver
const sinks: EventSink[] = []
const track = (sink: EventSink) => (sinks.push(sink), sink)
const sinkFor = (url: string, extra: Partial<SyslogSinkOptions> = {}) => track(createSyslogSink({ url, ...header, device, ...extra }))
const tlsFiles = (r: RsyslogReceiver) => ({ caFile: r.certs.caFile, certFile: r.certs.clientCertFile, keyFile: r.certs.clientKeyFile })

/** Ids of the batch's events as rsyslog wrote them (externalId), with how often each arrived. */
function arrivals(r: RsyslogReceiver, batch: OutboxPayload[]): Map<string, number> {
  const marker = ` cs1=${batch[0]!.event.tenant_id} `
  const counts = new Map<string, number>()
  for (const line of r.readLines()) {
    if (!line.includes(marker)) continue
    const id = /externalId=(\S+)/.exec(line)?.[1]
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

/** Delivers batches one after another as the relay does: a failed batch is retried until it goes through. */
async function deliverAllRetrying(sink: EventSink, batches: OutboxPayload[][], retryMs = 50): Promise<{ failures: number }> {
  let failures = 0
  for (const batch of batches) {
    for (;;) {
      try {
        await sink.deliver(batch)
        break
      } catch {
        failures++
        await new Promise((r) => setTimeout(r, retryMs))
      }
    }
  }
  return { failures }
}

const chunks = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

beforeAll(async () => {
  rx = await startRsyslog()
}, 30_000)

afterAll(async () => {
  await Promise.allSettled(sinks.map((s) => s.close()))
  await rx?.dispose()
})

describe('syslog over RELP against a real rsyslog (imrelp)', () => {
  it('delivers byte-exact and in order, every message acknowledged (written) before deliver resolves', async () => {
    const sink = sinkFor(rx.relpUrl, { windowSize: 16 })
    const batch = makeBatch(240)
    await sink.deliver(batch.slice(0, 100))
    // The receiver's ruleset writes before it acknowledges: the lines are there without waiting.
    expect(await linesOfTenant(rx, batch[0]!.event.tenant_id, 100, 0)).toEqual(expectedLines(batch.slice(0, 100)))
    await sink.deliver(batch.slice(100))
    const lines = await linesOfTenant(rx, batch[0]!.event.tenant_id, batch.length, 0)
    expect(lines).toEqual(expectedLines(batch))
    const parsed = await parseCefWithLognormalizer(lines)
    expect(parsed.map((p) => p.extensions.externalId)).toEqual(batch.map((p) => p.event.id))
  })

  it('delivers over RELP with mutual TLS, and refuses a client certificate the receiver does not trust', async () => {
    const sink = sinkFor(rx.relpTlsUrl, { tls: tlsFiles(rx) })
    const batch = makeBatch(60)
    await sink.deliver(batch)
    expect(await linesOfTenant(rx, batch[0]!.event.tenant_id, batch.length, 0)).toEqual(expectedLines(batch))

    const rogue = sinkFor(rx.relpTlsUrl, {
      tls: { caFile: rx.certs.caFile, certFile: rx.certs.rogueCertFile, keyFile: rx.certs.rogueKeyFile },
      connectTimeoutMs: 2_000,
    })
    const refused = makeBatch(3)
    await expect(rogue.deliver(refused)).rejects.toThrow()
    expect(await linesOfTenant(rx, refused[0]!.event.tenant_id, 1, 0)).toEqual([])
  })
})

describe('RELP across receiver faults: nothing acknowledged is lost', () => {
  let own: RsyslogReceiver
  beforeAll(async () => {
    own = await startRsyslog()
  }, 30_000)
  afterAll(async () => {
    own?.resume()
    await own?.dispose()
  })

  const faults = {
    'graceful stop (SIGTERM) and restart': async (r: RsyslogReceiver) => {
      await r.stop()
      await new Promise((resolve) => setTimeout(resolve, 300))
      await r.restart()
    },
    'kill -9 and restart': async (r: RsyslogReceiver) => {
      await r.kill()
      await new Promise((resolve) => setTimeout(resolve, 300))
      await r.restart()
    },
    'a stall (SIGSTOP for longer than the acknowledgement timeout) and resume': async (r: RsyslogReceiver) => {
      r.pause()
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      r.resume()
    },
  }

  for (const [name, fault] of Object.entries(faults)) {
    it(`${name} while batches are in flight: every event arrives, duplicates only by externalId`, async () => {
      const sink = sinkFor(own.relpUrl, { connectTimeoutMs: 1_000, ackTimeoutMs: 500, windowSize: 32 })
      const batch = makeBatch(3_000, () => ({ user_agent: 'Mozilla/5.0' }))
      const delivering = deliverAllRetrying(sink, chunks(batch, 100))
      // The fault lands once delivery is under way.
      const deadline = Date.now() + 30_000
      while ((arrivals(own, batch).size < 300) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      await fault(own)
      const { failures } = await delivering
      const seen = arrivals(own, batch)
      const missing = batch.filter((p) => !seen.has(p.event.id))
      const duplicates = [...seen.values()].filter((n) => n > 1).length
      console.info(`relp, ${name}: ${batch.length} events, ${missing.length} lost, ${duplicates} duplicated, ${failures} failed deliveries retried`)
      expect(missing).toEqual([])
      expect(failures).toBeGreaterThan(0)
    }, 60_000)
  }
})
