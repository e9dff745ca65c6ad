import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { attemptLogin, type LoginDeps, type LoginInput } from '../../src/auth/attempt-login.ts'
import { createTokenService } from '../../src/auth/tokens.ts'
import { createSql, type Sql } from '../../src/db/client.ts'
import { createOrganisation, createTenant, type Tenant } from '../../src/db/tenants.ts'
import { BENCH_PHC, createBenchOnlyHasher } from './bench-only-hasher.ts'
import { canonicalEventBytes } from '../../src/core/canonical-json.ts'
import { hexDigests, nobleDigester } from '../../src/core/digests.ts'
import { runPgbench } from './pgbench.ts'
import { startCpuMeter } from './cpu-meter.ts'
import { runClosedLoop, type ClosedLoopResult } from './stats.ts'

/**
 * A brute-force campaign against one tenant, the write path's worst day: attempts with wrong passwords
 * spread uniformly over many existing accounts (and so over the tenant's chain shards). Identifiers are
 * decimal numbers so that pgbench, which has no string functions, can produce the very same ones.
 */
export const ACCOUNT_BASE = 100_000

export interface Campaign {
  tenant: Tenant
  organisationId: string
  accounts: number
}

/** The attempt's origin: one address and agent, identical in the service runs and in pgbench. */
export const CAMPAIGN_ORIGIN = { ip: '203.0.113.50', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) campaign/1.0', deviceId: null, channel: 'web' } as const

/**
 * A tenant whose accounts all exist and already have a lockout row (the campaign's steady state, so that
 * every attempt takes the same statements). The lockout threshold is raised to the schema's maximum so that
 * every attempt records exactly one event; a lock would add a second event and change the statements.
 */
export async function seedCampaign(
  sql: Sql,
  options: { slug: string; chainShards: number; accounts: number; defencePolicy?: NonNullable<Parameters<typeof createTenant>[1]['defencePolicy']> },
): Promise<Campaign> {
  // The campaign's one address is allow-listed: this is the audit write path, which the per-address
  // throttle would otherwise stop after 100 failures (its own cost is bench/ip-throttle.ts's).
  const tenant = await createTenant(sql, {
    slug: options.slug,
    chainShards: options.chainShards,
    lockoutPolicy: { maxFailures: 1000 },
    defencePolicy: { allow_list: [`${CAMPAIGN_ORIGIN.ip}/32`], ...options.defencePolicy },
  })
  const org = await createOrganisation(sql, tenant.id, `${options.slug}-org`)
  await sql`
    INSERT INTO users (id, tenant_id, organisation_id, identifier, password_hash)
    SELECT gen_random_uuid(), ${tenant.id}, ${org.id}, (${ACCOUNT_BASE}::int + g)::text, ${BENCH_PHC}
    FROM generate_series(0, ${options.accounts - 1}::int) AS g`
  await sql`
    INSERT INTO account_lockouts (tenant_id, identifier, user_id)
    SELECT tenant_id, identifier, id FROM users WHERE tenant_id = ${tenant.id}`
  await sql`VACUUM ANALYZE users`
  await sql`VACUUM ANALYZE account_lockouts`
  return { tenant, organisationId: org.id, accounts: options.accounts }
}

/** The login use case's dependencies with the benchmark-only hasher: the pipeline without argon2. */
export function campaignDeps(sql: Sql): LoginDeps {
  return {
    sql,
    hasher: createBenchOnlyHasher(),
    tokens: createTokenService('bench-secret-bench-secret-bench-secret-0123', 'authtrail'),
    clock: () => new Date(),
    dummyHash: BENCH_PHC,
    tokenTtlSeconds: 3600,
  }
}

export function campaignInput(campaign: Campaign, account: number): LoginInput {
  return { tenant: campaign.tenant, identifier: String(ACCOUNT_BASE + account), password: 'wrong-guess', origin: { ...CAMPAIGN_ORIGIN }, idempotencyKey: null }
}

/**
 * Drives `attempt` (by default `attemptLogin`: find the account, verify the password, decide, and one call
 * of the append function) from `clients` async
 * loops over a pool of exactly `clients` connections. An answer other than invalid credentials counts
 * as an error.
 */
export async function runServiceCampaign(
  url: string,
  campaign: Campaign,
  clients: number,
  durationMs: number,
  warmupMs: number,
  attempt: (deps: LoginDeps, input: LoginInput) => Promise<{ kind: string }> = attemptLogin,
): Promise<CampaignRun> {
  const sql = createSql(url, { max: clients })
  const deps = campaignDeps(sql)
  let meter: ReturnType<typeof startCpuMeter> | null = null
  try {
    const result = await runClosedLoop(
      clients,
      durationMs,
      async () => {
        const result = await attempt(deps, campaignInput(campaign, Math.floor(Math.random() * campaign.accounts)))
        if (result.kind !== 'invalid_credentials') throw new Error(`unexpected login result ${result.kind}`)
      },
      { warmupMs, onMeasureStart: () => (meter = startCpuMeter(databaseOf(url), { self: true })) },
    )
    return { ...result, cpu: await perAttempt(meter, result.ops) }
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/** CPU per attempt, in ms: the client (Node or pgbench) and the PostgreSQL backends. */
export interface CampaignRun extends ClosedLoopResult {
  cpu: { clientMs: number; backendMs: number }
}

const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1))

async function perAttempt(meter: ReturnType<typeof startCpuMeter> | null, ops: number): Promise<CampaignRun['cpu']> {
  if (!meter || ops === 0) return { clientMs: Number.NaN, backendMs: Number.NaN }
  const r = await meter.stop()
  return { clientMs: (r.client * 1000) / ops, backendMs: (r.backends * 1000) / ops }
}

/** A UUID with a millisecond time prefix, like the service's UUIDv7, so that index inserts stay as local. */
export const PG_UUIDV7_EXPRESSION =
  "(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 19))::uuid"

export interface CampaignPgbench {
  file: string
  defines: Record<string, string>
  statements: string[]
}

/**
 * The minimal per-attempt transaction as a pgbench script (issue 15's baseline): the lockout upsert, one
 * chain-head update, the auth_logs insert and the outbox insert, and no NOTIFY. The account is drawn
 * uniformly per transaction, its shard is account mod shards; the row values (a real event's fields,
 * digests and outbox payload, computed once) are constants of the same sizes as the service's.
 */
export async function writeCampaignPgbenchScript(_url: string, campaign: Campaign, dir: string, label: string): Promise<CampaignPgbench> {
  const now = new Date()
  const event = {
    id: crypto.randomUUID(), tenant_id: campaign.tenant.id, organisation_id: campaign.organisationId, shard: 0, seq: 1,
    event_type: 'login_failed' as const, channel: 'web' as const, user_id: crypto.randomUUID(), identifier: String(ACCOUNT_BASE),
    ip: CAMPAIGN_ORIGIN.ip, user_agent: CAMPAIGN_ORIGIN.userAgent, device_id: null, occurred_at: now.toISOString(),
    outcome: 'failure' as const, reason: 'invalid_credentials', risk: { score: 0, signals: [] }, metadata: { failed_attempts: 1, locked_until: null },
    token_jti: null, actor_id: null, expires_at: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  }
  const digests = nobleDigester.digestBytes(canonicalEventBytes(event))
  const hex = (b: Uint8Array) => `\\x${Buffer.from(b).toString('hex')}`
  const chain = nobleDigester.sha256(digests.sha256)
  const payload = { event: { ...event, digests: hexDigests(digests), prev_hash: Buffer.from(chain).toString('hex'), chain_hash: Buffer.from(chain).toString('hex') }, lockout: null }
  const defines = {
    tenant: campaign.tenant.id,
    ua: CAMPAIGN_ORIGIN.userAgent,
    risk: JSON.stringify(event.risk),
    metadata: JSON.stringify(event.metadata),
    d256: hex(digests.sha256),
    d512: hex(digests.sha512),
    d3: hex(digests.sha3_256),
    link: hex(chain),
    payload: JSON.stringify(payload),
  }
  const statements = [
    'BEGIN',
    `INSERT INTO account_lockouts (tenant_id, identifier) VALUES (:tenant, :acct) ON CONFLICT ON CONSTRAINT account_lockouts_pkey DO UPDATE SET failed_login_attempts = account_lockouts.failed_login_attempts + 1, last_failed_at = now(), updated_at = now()`,
    `UPDATE chain_heads SET seq = seq + 1, head_hash = :link WHERE tenant_id = :tenant AND shard = :shard RETURNING seq \\gset`,
    `INSERT INTO auth_logs (id, tenant_id, shard, seq, event_type, channel, identifier, ip, user_agent, occurred_at, outcome, reason, risk, metadata, expires_at, digest_sha256, digest_sha512, digest_sha3_256, prev_hash, chain_hash) VALUES (${PG_UUIDV7_EXPRESSION}, :tenant, :shard, :seq, 'login_failed', 'web', :acct, '${CAMPAIGN_ORIGIN.ip}', :ua, now(), 'failure', 'invalid_credentials', :risk, :metadata, now() + interval '365 days', :d256, :d512, :d3, :link, :link)`,
    `INSERT INTO outbox (event_id, tenant_id, shard, seq, payload) VALUES (${PG_UUIDV7_EXPRESSION}, :tenant, :shard, :seq, :payload)`,
    'COMMIT',
  ]
  const script = [
    `-- Generated by bench/support/campaign.ts: the minimal statements of one attempt, without NOTIFY.`,
    `\\set acct random(${ACCOUNT_BASE}, ${ACCOUNT_BASE + campaign.accounts - 1})`,
    `\\set shard :acct % ${campaign.tenant.chainShards}`,
    ...statements.map((st) => (st.endsWith('gset') ? st : `${st};`)),
  ]
  const file = join(dir, `${label}.pgbench.sql`)
  writeFileSync(file, `${script.join('\n')}\n`)
  return { file, defines, statements }
}

export async function runPgbenchCampaign(url: string, script: CampaignPgbench, clients: number, seconds: number): Promise<CampaignRun> {
  let pgbenchPid: number | null = null
  const meter = startCpuMeter(databaseOf(url), { pids: () => (pgbenchPid === null ? [] : [pgbenchPid]) })
  const result = await runPgbench({ url, scriptFile: script.file, clients, threads: 2, seconds, defines: script.defines, onStart: (pid) => (pgbenchPid = pid) })
  return { ...result, cpu: await perAttempt(meter, result.ops) }
}

/** Rows of the tenant's audit log, to check that every counted attempt really wrote its event. */
export async function countEvents(sql: Sql, tenantId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${tenantId}`
  return row!.n
}

/** Removes dead row versions of the hot rows, so each run starts from the same table state. */
export async function vacuumHotTables(sql: Sql): Promise<void> {
  await sql`VACUUM chain_heads`
  await sql`VACUUM account_lockouts`
}
