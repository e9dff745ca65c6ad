// A relay process for the SIGKILL test: delivers to a slow sink that appends one line per event to a
// file, so that a kill lands in the middle of a batch. Configured by environment variables.
import { appendFileSync } from 'node:fs'
import { createSql } from '../../src/db/client.ts'
import { createOutboxRelay } from '../../src/outbox/create-outbox-relay.ts'
import type { EventSink } from '../../src/sinks/event-sink.ts'

const url = process.env.RELAY_DATABASE_URL!
const outFile = process.env.RELAY_OUT_FILE!
const delayMs = Number(process.env.RELAY_EVENT_DELAY_MS ?? '10')

const sink: EventSink = {
  name: 'syslog',
  async deliver(batch) {
    for (const { event } of batch) {
      appendFileSync(outFile, `${event.id} ${event.tenant_id}/${event.shard} ${event.seq} ${process.pid}\n`)
      await new Promise((r) => setTimeout(r, delayMs))
    }
  },
  async close() {},
}

const sql = createSql(url, { max: 2 })
const relay = createOutboxRelay({
  sql,
  sinks: [sink],
  batchSize: Number(process.env.RELAY_BATCH_SIZE ?? '20'),
  maxChainsPerClaim: 2,
  pollIntervalMs: 100,
  listen: true,
})
await relay.start()
process.stdout.write('ready\n')
process.on('SIGTERM', () => {
  void relay.stop().then(() => sql.end({ timeout: 2 })).then(() => process.exit(0))
})
