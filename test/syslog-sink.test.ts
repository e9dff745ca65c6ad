import { readFileSync, rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxPayload } from '../src/core/auth-event.ts'
import { cefReadBack } from '../src/core/cef.ts'
import { formatSyslog5424 } from '../src/core/syslog-5424.ts'
import type { EventSink } from '../src/sinks/event-sink.ts'
import { createSyslogSink, type SyslogSinkOptions } from '../src/sinks/syslog/index.ts'
import { parseCefWithLognormalizer } from './support/lognormalizer.ts'
import { linesOfTenant, makeBatch } from './support/syslog-batches.ts'
import { startRsyslog, type RsyslogReceiver } from './support/rsyslog.ts'

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }
const header = { hostname: 'authtrail-test', appName: 'authtrail', procId: '4242' }

const expectedLines = (batch: OutboxPayload[]) => batch.map((p) => formatSyslog5424(p, device, header))

function sinkFor(url: string, extra: Partial<SyslogSinkOptions> = {}): EventSink {
  return createSyslogSink({ url, ...header, device, ...extra })
}

let rx: RsyslogReceiver
const sinks: EventSink[] = []
const track = (sink: EventSink) => (sinks.push(sink), sink)

beforeAll(async () => {
  rx = await startRsyslog()
}, 30_000)

afterAll(async () => {
  await Promise.allSettled(sinks.map((s) => s.close()))
  await rx?.dispose()
})

describe('syslog sink against a real rsyslog', () => {
  it('delivers over TCP byte-exact and in order, and lognormalizer reads back the original values', async () => {
    const sink = track(sinkFor(rx.tcpUrl))
    const batch = makeBatch(240)
    await sink.deliver(batch.slice(0, 100))
    await sink.deliver(batch.slice(100))

    const lines = await linesOfTenant(rx, batch[0]!.event.tenant_id, batch.length)
    expect(lines).toEqual(expectedLines(batch))

    const parsed = await parseCefWithLognormalizer(lines)
    parsed.forEach(({ header: h, extensions: x }, i) => {
      const e = batch[i]!.event
      expect(h).toMatchObject({ deviceVendor: 'authtrail', signatureId: e.event_type })
      expect(x.externalId).toBe(e.id)
      // Values come back as sent: control characters pictured, over-long ones cut with the marker.
      expect(x.duser).toBe(cefReadBack(e.identifier!))
      expect(x.cs5).toBe(cefReadBack(e.device_id!, 4000))
      expect(x.reason).toBe(e.reason === null ? undefined : cefReadBack(e.reason))
      expect(x.cs2).toBe(e.organisation_id === null ? undefined : cefReadBack(e.organisation_id, 4000))
      expect(x.dvchost).toBe(header.hostname)
      expect(x.cn1).toBe(String(e.seq))
      expect(x.cs4).toBe(e.chain_hash)
      expect(x.src).toBe(e.ip)
      if (e.ip!.includes(':')) expect(x.c6a2).toBe(e.ip)
      // Over-long user agents arrive cut to the dictionary's 1023 characters, the last one the marker.
      expect(x.requestClientApplication).toBe(cefReadBack(e.user_agent!))
      if ([...e.user_agent!].length > 1023) expect(x.requestClientApplication).toBe(`${[...e.user_agent!].slice(0, 1022).join('')}…`)
      expect(x.rt).toBe(String(Date.parse(e.occurred_at)))
    })
  })

  it('delivers over mutual TLS byte-exact and in order', async () => {
    const sink = track(
      sinkFor(rx.tlsUrl, {
        tls: { caFile: rx.certs.caFile, certFile: rx.certs.clientCertFile, keyFile: rx.certs.clientKeyFile },
      }),
    )
    const batch = makeBatch(120)
    await sink.deliver(batch.slice(0, 60))
    await sink.deliver(batch.slice(60))
    const lines = await linesOfTenant(rx, batch[0]!.event.tenant_id, batch.length)
    expect(lines).toEqual(expectedLines(batch))
    const parsed = await parseCefWithLognormalizer(lines)
    expect(parsed.map((p) => p.extensions.duser)).toEqual(batch.map((p) => cefReadBack(p.event.identifier!)))
  })

  it('delivers over UDP, one message per datagram', async () => {
    const sink = track(sinkFor(rx.udpUrl, { maxDatagramBytes: 8192 }))
    // Short user agents: a UDP datagram is not the place for 3000 characters.
    const batch = makeBatch(16, () => ({ user_agent: 'curl/8 ö' }))
    await sink.deliver(batch)
    const lines = await linesOfTenant(rx, batch[0]!.event.tenant_id, batch.length)
    // Loopback does not reorder, and 16 datagrams do not overrun rsyslog's socket buffer.
    expect(lines).toEqual(expectedLines(batch))
  })

  it('cuts an oversize UDP message to the datagram limit so that it still parses', async () => {
    const sink = track(sinkFor(rx.udpUrl, { maxDatagramBytes: 1200 }))
    const batch = makeBatch(2, () => ({ user_agent: `ö😀|=\\ ${'u'.repeat(2000)}` }))
    await sink.deliver(batch)
    const lines = await linesOfTenant(rx, batch[0]!.event.tenant_id, 2)
    expect(lines).toHaveLength(2)
    const parsed = await parseCefWithLognormalizer(lines)
    lines.forEach((line, i) => {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(1200)
      const x = parsed[i]!.extensions
      expect(x.duser).toBe(cefReadBack(batch[i]!.event.identifier!))
      // The user agent comes last, so it is the field that gets shortened, marked; the datagram says it was cut.
      expect(x.requestClientApplication!.length).toBeGreaterThan(10)
      expect(x.requestClientApplication!.endsWith('…')).toBe(true)
      expect(batch[i]!.event.user_agent!.startsWith(x.requestClientApplication!.slice(0, -1))).toBe(true)
      expect(x.msg).toBe('datagram truncated to 1200 bytes')
    })
  })

  it('keeps the next frame intact after a message with multi-byte characters', async () => {
    const sink = track(sinkFor(rx.tcpUrl))
    const batch = makeBatch(3, (i) => ({ identifier: ['ö'.repeat(500), '😀'.repeat(300), 'plain'][i]! }))
    await sink.deliver(batch)
    const lines = await linesOfTenant(rx, batch[0]!.event.tenant_id, 3)
    expect(lines).toEqual(expectedLines(batch))
    // A character-counted frame would have cut the first message short and broken the rest.
    expect(rx.readLines().some((l) => l.startsWith('ö') || /^\d+ /.test(l))).toBe(false)
  })

  it('rejects delivery when the receiver refuses the client certificate (TLS 1.3)', async () => {
    const rogue = track(
      sinkFor(rx.tlsUrl, {
        tls: { caFile: rx.certs.caFile, certFile: rx.certs.rogueCertFile, keyFile: rx.certs.rogueKeyFile },
      }),
    )
    const batch = makeBatch(5)
    // The handshake completes and the write succeeds on the client side; the alert follows.
    await expect(rogue.deliver(batch)).rejects.toThrow()
    await expect(rogue.deliver(batch)).rejects.toThrow()
    await new Promise((r) => setTimeout(r, 100))
    expect(await linesOfTenant(rx, batch[0]!.event.tenant_id, 1, 0)).toEqual([])
  })

  it('rejects delivery when the receiver certificate is not signed by the configured CA', async () => {
    const sink = track(
      sinkFor(rx.tlsUrl, {
        tls: { caFile: rx.certs.rogueCertFile, certFile: rx.certs.clientCertFile, keyFile: rx.certs.clientKeyFile },
      }),
    )
    await expect(sink.deliver(makeBatch(1))).rejects.toThrow(/certificate/i)
  })

  it('moves 20,000 events over TCP in batches of 500', async () => {
    const sink = track(sinkFor(rx.tcpUrl))
    const batch = makeBatch(20_000, () => ({ user_agent: 'Mozilla/5.0 (X11; Linux x86_64)' }))
    const started = performance.now()
    for (let i = 0; i < batch.length; i += 500) await sink.deliver(batch.slice(i, i + 500))
    const sent = performance.now()
    const lines = await linesOfTenant(rx, batch[0]!.event.tenant_id, batch.length, 30_000)
    const received = performance.now()
    console.info(
      `syslog tcp: 20000 events delivered in ${(sent - started).toFixed(0)} ms ` +
        `(${Math.round(20_000 / ((sent - started) / 1000))}/s), all written by rsyslog after ${(received - started).toFixed(0)} ms`,
    )
    expect(lines).toEqual(expectedLines(batch))
  }, 40_000)
})

describe('syslog sink across a receiver restart', () => {
  let own: RsyslogReceiver

  beforeAll(async () => {
    own = await startRsyslog()
  }, 30_000)
  afterAll(async () => {
    await own?.dispose()
  })

  for (const transport of ['tcp', 'tls'] as const) {
    it(`over ${transport}: rejects while the receiver is down and loses nothing across the restart`, async () => {
      const url = transport === 'tcp' ? own.tcpUrl : own.tlsUrl
      const sink = track(
        sinkFor(url, {
          tls: { caFile: own.certs.caFile, certFile: own.certs.clientCertFile, keyFile: own.certs.clientKeyFile },
          connectTimeoutMs: 1_000,
        }),
      )
      const batch = makeBatch(30)
      const [a, b, c] = [batch.slice(0, 10), batch.slice(10, 20), batch.slice(20)]

      await sink.deliver(a)
      await own.stop()
      await expect(sink.deliver(b)).rejects.toThrow()
      await expect(sink.deliver(b)).rejects.toThrow()

      // Like the relay: keep retrying the failed batch; the receiver comes back meanwhile.
      const retried = (async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            await sink.deliver(b)
            return attempt
          } catch {
            await new Promise((r) => setTimeout(r, 25))
          }
        }
      })()
      await new Promise((r) => setTimeout(r, 200))
      await own.restart()
      expect(await retried).toBeGreaterThan(1)
      await sink.deliver(c)

      const lines = await linesOfTenant(own, batch[0]!.event.tenant_id, batch.length)
      expect(lines).toEqual(expectedLines(batch))
    }, 20_000)
  }

  it('reconnects after the receiver dropped an idle connection', async () => {
    const sink = track(sinkFor(own.tcpUrl))
    const batch = makeBatch(4)
    await sink.deliver(batch.slice(0, 2))
    await own.restart()
    await sink.deliver(batch.slice(2))
    expect(await linesOfTenant(own, batch[0]!.event.tenant_id, 4)).toEqual(expectedLines(batch))
  }, 20_000)
})

describe('lognormalizer as the independent check', () => {
  it('refuses what a strict CEF parser must refuse', async () => {
    await expect(parseCefWithLognormalizer(['CEF:0|a|b|1|x|n|5|k=v=w'])).rejects.toThrow(/refused/)
    await expect(parseCefWithLognormalizer(['CEF:0|a|b|1|x|n|5|k=v\\|w'])).rejects.toThrow(/refused/)
    await expect(parseCefWithLognormalizer(['CEF:0|a|b|1|x|n|5|k=v x='])).rejects.toThrow(/refused/)
    const [ok] = await parseCefWithLognormalizer(['<85>1 - - - - - - CEF:0|a\\|b|p|1|x|n|5|rt=1 k=v\\=w'])
    expect(ok).toEqual({
      header: { deviceVendor: 'a|b', deviceProduct: 'p', deviceVersion: '1', signatureId: 'x', name: 'n', severity: '5' },
      extensions: { rt: '1', k: 'v=w' },
    })
  })
})

describe('syslog file sink', () => {
  it('appends one RFC 5424 line per event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authtrail-syslog-file-'))
    try {
      const path = join(dir, 'authtrail.log')
      const sink = sinkFor(`file://${path}`)
      const batch = makeBatch(20)
      await sink.deliver(batch.slice(0, 7))
      await sink.deliver(batch.slice(7))
      await sink.close()
      expect(readFileSync(path, 'utf8')).toBe(`${expectedLines(batch).join('\n')}\n`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
