/**
 * How the document-store sink's cost per event depends on the events per call (the relay calls it once
 * per claim, up to RELAY_BATCH_SIZE events), against the in-memory store: 20,000 chained events delivered
 * in batches of each size, CPU per event of this process. MongoDB is not available here and not measured.
 *
 *   node --import tsx bench/docstore-batch-size.ts [size ...]
 */
import type { OutboxPayload, UnsequencedEvent } from '../src/core/auth-event.ts'
import { appendToChain, genesisHash } from '../src/core/chain.ts'
import { uuidv7 } from '../src/core/ids.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'

const TENANT = '01900000-0000-7000-8000-000000000001'
const N = 20_000
const now = Date.now()
const drafts: UnsequencedEvent[] = Array.from({ length: N }, (_, n) => ({
  id: uuidv7(now + n), tenant_id: TENANT, organisation_id: null, event_type: 'login_failed', channel: 'web', user_id: null,
  identifier: `user${n % 5000}@example.com`, ip: `198.51.${(n >> 8) % 256}.${n % 256}`, user_agent: 'python-requests/2.32.3', device_id: null,
  occurred_at: new Date(now + n).toISOString(), outcome: 'failure', reason: 'invalid_credentials', risk: { score: 35, signals: ['repeated_failures'] },
  metadata: { failed_attempts: 2, locked_until: null }, token_jti: null, actor_id: null, expires_at: new Date(now + n + 3e10).toISOString(),
}))
const { chained } = appendToChain(drafts, { shard: 0, lastSeq: 0, headHash: genesisHash(TENANT, 0, nodeDigester) }, nodeDigester)
const payloads: OutboxPayload[] = chained.map((event) => ({ event, lockout: null }))
const sizes = process.argv.slice(2).map(Number)
for (const size of sizes.length ? sizes : [1, 50, 500, 2000, 2000, 500, 100, 1000, 250]) {
  const sink = createDocumentStoreSink(createMemoryDocumentStore())
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < N; i += size) await sink.deliver(payloads.slice(i, i + size))
  const c = process.cpuUsage(c0)
  console.log(`batch ${String(size).padStart(4)}: ${((N / (performance.now() - t0)) * 1000).toFixed(0)} events/s, CPU ${((c.user + c.system) / N).toFixed(1)} µs/event`)
}
