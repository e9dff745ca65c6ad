import type { OutboxPayload, UnsequencedEvent } from '../../src/core/auth-event.ts'
import { appendToChain, genesisHash } from '../../src/core/chain.ts'
import type { Digester } from '../../src/core/digests.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { Sql } from '../../src/db/client.ts'
import { nodeDigester } from '../../src/audit/node-digester.ts'
import { createOrganisation, createTenant, type Tenant } from '../../src/db/tenants.ts'
import { createBenchDatabase, type BenchDatabase } from './bench-database.ts'

/** auth_logs columns in COPY order (ip_inet is generated). */
const COLUMNS = [
  'id', 'tenant_id', 'organisation_id', 'shard', 'seq', 'event_type', 'channel', 'user_id', 'identifier', 'ip', 'user_agent',
  'device_id', 'occurred_at', 'outcome', 'reason', 'risk', 'metadata', 'token_jti', 'actor_id', 'expires_at',
  'digest_sha256', 'digest_sha512', 'digest_sha3_256', 'prev_hash', 'chain_hash',
] as const

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'python-requests/2.32.3',
]

const COPY_SPECIAL = /[\\\t\n\r]/

function copyText(value: string | null): string {
  if (value === null) return '\\N'
  if (!COPY_SPECIAL.test(value)) return value
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
}

/** A plausible login event: mostly failures from a few addresses, some successes, realistic field sizes. */
function draft(tenant: Tenant, organisationId: string, n: number, occurredMs: number): UnsequencedEvent {
  const failed = n % 4 !== 0
  const account = n % 50_000
  return {
    id: uuidv7(occurredMs),
    tenant_id: tenant.id,
    organisation_id: organisationId,
    event_type: failed ? 'login_failed' : 'login_success',
    channel: n % 3 === 0 ? 'mobile' : 'web',
    user_id: null,
    identifier: `user${account}@example.com`,
    ip: `198.51.${(n >> 8) % 256}.${n % 256}`,
    user_agent: USER_AGENTS[n % USER_AGENTS.length]!,
    device_id: n % 3 === 0 ? `ios-${(account * 2654435761) % 1e8}` : null,
    occurred_at: new Date(occurredMs).toISOString(),
    outcome: failed ? 'failure' : 'success',
    reason: failed ? 'invalid_credentials' : null,
    risk: failed ? { score: 35, signals: ['repeated_failures'] } : { score: 0, signals: [] },
    metadata: failed ? { failed_attempts: (n % 4) + 1, locked_until: null } : { token_expires_at: new Date(occurredMs + 3_600_000).toISOString() },
    token_jti: failed ? null : uuidv7(occurredMs),
    actor_id: null,
    expires_at: new Date(occurredMs + 365 * 86_400_000).toISOString(),
  }
}

/**
 * Writes `total` genuinely chained events for a tenant, spread round-robin over its shards: each is
 * canonicalised, digested and linked in JS with `appendToChain` (as the write path does), then streamed
 * to PostgreSQL with COPY in large batches; finally the chain heads are set to each chain's end, so
 * that `verifyTenantChain` finds the data exactly as the service would have left it.
 */
export async function loadChainedEvents(
  sql: Sql,
  tenant: Tenant,
  organisationId: string,
  total: number,
  digester: Digester,
  options: {
    onProgress?: (written: number) => void
    /** Write the auth_logs rows (default true). */
    authLogs?: boolean
    /** Write one outbox row per event too, as the write path does (default false). */
    outbox?: boolean
  } = {},
): Promise<void> {
  const writeLogs = options.authLogs ?? true
  const shards = tenant.chainShards
  const state = Array.from({ length: shards }, (_, shard) => ({ lastSeq: 0, headHash: genesisHash(tenant.id, shard, digester) }))
  const startMs = Date.now() - 30 * 86_400_000
  const stepMs = (30 * 86_400_000) / total
  // Small batches keep the garbage collector in the young generation.
  const batch = 4_000
  let pending: Promise<void> = Promise.resolve()
  for (let from = 0; from < total; from += batch) {
    const count = Math.min(batch, total - from)
    const perShard: UnsequencedEvent[][] = Array.from({ length: shards }, () => [])
    for (let i = 0; i < count; i++) {
      const n = from + i
      perShard[n % shards]!.push(draft(tenant, organisationId, n, startMs + n * stepMs))
    }
    const lines: string[] = []
    const boxLines: string[] = []
    for (let shard = 0; shard < shards; shard++) {
      const events = perShard[shard]!
      if (events.length === 0) continue
      const s = state[shard]!
      const { chained, headHash } = appendToChain(events, { shard, lastSeq: s.lastSeq, headHash: s.headHash }, digester)
      s.lastSeq += events.length
      s.headHash = headHash
      for (const e of chained) {
        if (options.outbox) {
          const payload: OutboxPayload = { event: e, lockout: null }
          boxLines.push([e.id, e.tenant_id, String(e.shard), String(e.seq), copyText(JSON.stringify(payload))].join('\t'))
        }
        if (!writeLogs) continue
        lines.push(
          [
            e.id, e.tenant_id, copyText(e.organisation_id), String(e.shard), String(e.seq), e.event_type, e.channel, copyText(e.user_id),
            copyText(e.identifier), copyText(e.ip), copyText(e.user_agent), copyText(e.device_id), e.occurred_at, e.outcome, copyText(e.reason),
            copyText(JSON.stringify(e.risk)), copyText(JSON.stringify(e.metadata)), copyText(e.token_jti), copyText(e.actor_id), e.expires_at,
            `\\\\x${e.digests.sha256}`, `\\\\x${e.digests.sha512}`, `\\\\x${e.digests.sha3_256}`, `\\\\x${e.prev_hash}`, `\\\\x${e.chain_hash}`,
          ].join('\t'),
        )
      }
    }
    // PostgreSQL ingests this batch while the next one is computed (the client has two connections).
    await pending
    pending = (async () => {
      if (lines.length) await copyLines(sql, `COPY auth_logs (${COLUMNS.join(', ')}) FROM STDIN`, lines)
      if (boxLines.length) await copyLines(sql, 'COPY outbox (event_id, tenant_id, shard, seq, payload) FROM STDIN', boxLines)
    })()
    pending.catch(() => {})
    options.onProgress?.(from + count)
  }
  await pending
  for (const [shard, s] of state.entries()) {
    await sql`UPDATE chain_heads SET seq = ${s.lastSeq}, head_hash = ${Buffer.from(s.headHash)} WHERE tenant_id = ${tenant.id} AND shard = ${shard}`
  }
}

async function copyLines(sql: Sql, statement: string, lines: string[]): Promise<void> {
  const stream = await sql.unsafe(statement).writable()
  const done = new Promise<void>((resolve, reject) => {
    stream.once('finish', resolve)
    stream.once('error', reject)
  })
  stream.end(`${lines.join('\n')}\n`)
  await done
}

/** Drops the investigation indexes of auth_logs: a verification benchmark reads only by chain position. */
export async function dropInvestigationIndexes(sql: Sql): Promise<string[]> {
  const rows = await sql<{ indexname: string }[]>`
    SELECT indexname FROM pg_indexes
    WHERE tablename = 'auth_logs' AND indexname NOT IN ('auth_logs_pkey', 'auth_logs_chain_position_key')`
  for (const r of rows) await sql.unsafe(`DROP INDEX ${r.indexname}`)
  return rows.map((r) => r.indexname)
}

/**
 * What every verification benchmark starts from: a database of its own holding one tenant whose chains
 * (16) carry `events` genuinely chained events, loaded with COPY, the investigation indexes dropped
 * (verification reads by chain position only) and the table analysed. The caller drops the database.
 */
export async function loadVerificationTenant(label: string, events: number, log: (line: string) => void): Promise<{ db: BenchDatabase; tenant: Tenant; droppedIndexes: string[] }> {
  const db = await createBenchDatabase(label)
  const tenant = await createTenant(db.sql, { slug: label.replaceAll('_', '-') })
  const org = await createOrganisation(db.sql, tenant.id, `${label}-org`)
  const droppedIndexes = await dropInvestigationIndexes(db.sql)
  const t0 = performance.now()
  await loadChainedEvents(db.sql, tenant, org.id, events, nodeDigester)
  await db.sql`VACUUM ANALYZE auth_logs`
  log(`  ${events.toLocaleString('en-US')} chained events generated and loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  return { db, tenant, droppedIndexes }
}
