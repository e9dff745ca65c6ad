import type { Sql } from '../../src/db/client.ts'
import { createTenant } from '../../src/db/tenants.ts'

/**
 * What a service in use has and a fresh database lacks: a trail with history, `events` login failures of a
 * tenant of their own. Without it a run's connections plan their statements on near-empty tables (this
 * machine's PostgreSQL runs without autovacuum, so nothing is analysed) and keep plans that scan a table
 * whole while the run fills it (append_auth_events' duplicate check over auth_logs, typically): a cost of
 * the benchmark's set-up, not of the code measured. Written directly (a benchmark's database is the
 * superuser's): this chain is not verified.
 */
export async function seedTrailHistory(sql: Sql, events: number): Promise<void> {
  const other = await createTenant(sql, { slug: 'bench-history', chainShards: 1 })
  await sql`
    INSERT INTO auth_logs (id, tenant_id, shard, seq, event_type, channel, identifier, ip, occurred_at, outcome, reason, risk, metadata,
                           expires_at, digest_sha256, digest_sha512, digest_sha3_256, prev_hash, chain_hash)
    SELECT gen_random_uuid(), ${other.id}, 0, g, 'login_failed', 'web', 'history-' || g, '198.51.100.1', now() - interval '1 day', 'failure',
           'invalid_credentials', '{"score": 0, "signals": []}', '{}', now() + interval '1 year', '\\x00', '\\x00', '\\x00', '\\x00', '\\x00'
    FROM generate_series(1, ${events}::int) AS g`
  await analyzeGrownTables(sql)
}

/** Statistics as autovacuum would keep them, so that the next connections plan on the tables' real sizes. */
export async function analyzeGrownTables(sql: Sql): Promise<void> {
  await sql`ANALYZE auth_logs, outbox, account_lockouts, ip_throttles, account_known_networks, account_network_lockouts`
}
