import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { frameOctetCounted } from '../src/core/octet-framing.ts'
import { encodeFrames } from '../src/sinks/syslog/stream-transport.ts'
import { fmt, type Benchmark } from './support/report.ts'

const WRITE_BYTES = 256 * 1024
const BATCH = 2_000

/**
 * Benchmark: the syslog stream transport's framing, side by side in one process and one run: a batch's
 * frames encoded once into one buffer and written as views of it (encodeFrames, as the sink does now),
 * against the previous method, frames built as strings, joined into strings of about 256 KiB and encoded
 * again by the socket. Both write the same messages in batches of 2,000 to a local TCP server that
 * discards them; CPU per event is this process's (sender and the discarding server together, the same for
 * both). Messages are the size of a CEF login event in RFC 5424 (about 550 bytes), one in ten with
 * non-ASCII characters.
 */
export const syslogFramingBenchmark: Benchmark = {
  name: 'syslog-framing',
  title: 'Syslog framing: one buffer per batch against joined strings',
  async run(ctx) {
    const events = ctx.quick ? 100_000 : 400_000
    const messages = Array.from({ length: events }, (_, i) => message(i))
    const server = createServer((socket) => socket.resume())
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    try {
      const socket = connect({ host: '127.0.0.1', port })
      await once(socket, 'connect')
      socket.setNoDelay(true)
      const methods = {
        'one buffer per batch (encodeFrames)': (batch: string[]) => encodeFrames(batch, WRITE_BYTES),
        'joined strings (previous)': (batch: string[]) => joinFrames(batch, WRITE_BYTES),
      } as const
      const results: Record<string, { rate: number; cpuUs: number }[]> = {}
      for (let round = 0; round < 3; round++) {
        for (const [name, encode] of Object.entries(methods)) {
          const cpu0 = process.cpuUsage()
          const t0 = performance.now()
          for (let i = 0; i < events; i += BATCH) await writeAll(socket, encode(messages.slice(i, i + BATCH)))
          const seconds = (performance.now() - t0) / 1000
          const cpu = process.cpuUsage(cpu0)
          const r = { rate: events / seconds, cpuUs: (cpu.user + cpu.system) / events }
          ;(results[name] ??= []).push(r)
          ctx.log(`  ${name.padEnd(38)} ${fmt(r.rate)} events/s, ${fmt(r.cpuUs)} µs CPU per event`)
        }
      }
      socket.end()
      const best = (name: string) => results[name]!.reduce((a, b) => (b.cpuUs < a.cpuUs ? b : a))
      const now = best('one buffer per batch (encodeFrames)')
      const before = best('joined strings (previous)')
      return {
        tables: [
          {
            title: `${events.toLocaleString('en-US')} messages in batches of ${BATCH.toLocaleString('en-US')} to a discarding local TCP server, best of 3 rounds (lowest CPU)`,
            columns: ['framing', 'events/s', 'CPU µs/event'],
            rows: Object.keys(methods).map((name) => [name, best(name).rate, best(name).cpuUs]),
          },
        ],
        figures: [
          {
            name: 'syslog framing CPU per event, one buffer per batch',
            value: now.cpuUs,
            unit: 'µs/event',
            baseline: { name: 'joined strings (previous)', value: before.cpuUs },
            ratio: now.cpuUs / before.cpuUs,
          },
        ],
        notes: ['Methods alternate within each round; CPU is process.cpuUsage over the run (the discarding server is in the same process, the same work for both).'],
        details: { results },
      }
    } finally {
      server.close()
    }
  },
}

function message(i: number): string {
  const who = i % 10 === 0 ? `jörg.müller${i}@exämple.com` : `user${i}@example.com`
  return (
    `<86>1 2026-12-01T19:00:00.000Z authtrail-host authtrail 4242 login_failed - ` +
    `CEF:0|authtrail|authtrail|0.1.0|login_failed|Login failed|5|rt=1764615600000 src=198.51.100.${i % 256} ` +
    `suser=${who} outcome=failure reason=invalid_credentials requestClientApplication=Mozilla/5.0 (X11; Linux x86_64) ` +
    `AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 externalId=0193a1f2-${String(i).padStart(4, '0')}-7000-8000-000000000000 ` +
    `cs1Label=tenant cs1=7f1c2d3e-0000-4000-8000-000000000001 cs2Label=chain cs2=3/${i} cs3Label=sha256 ` +
    `cs3=${'a1b2c3d4'.repeat(8)} flexString2Label=prev flexString2=${'0f'.repeat(16)}`
  )
}

/** The previous stream transport's framing: frames as strings, joined into writes of about `maxBytes`. */
function joinFrames(messages: readonly string[], maxBytes: number): string[] {
  const chunks: string[] = []
  let chunk = ''
  for (const m of messages) {
    const frame = frameOctetCounted(m)
    if (chunk !== '' && chunk.length + frame.length > maxBytes) {
      chunks.push(chunk)
      chunk = ''
    }
    chunk += frame
  }
  if (chunk !== '') chunks.push(chunk)
  return chunks
}

async function writeAll(socket: Socket, chunks: readonly (string | Uint8Array)[]): Promise<void> {
  for (let i = 0; i < chunks.length; i++) {
    const last = i === chunks.length - 1
    if (last) await new Promise<void>((resolve, reject) => socket.write(chunks[i]!, (err) => (err ? reject(err) : resolve())))
    else if (!socket.write(chunks[i]!)) await once(socket, 'drain')
  }
}
