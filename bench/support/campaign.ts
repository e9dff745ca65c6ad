import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { attemptLogin, type LoginDeps, type LoginInput } from '../../src/auth/attempt-login.ts'
import { createTokenService } from '../../src/auth/tokens.ts'
import { createSql, type Sql } from '../../src/db/client.ts'
import { createOrganisation, createTenant, type Tenant } from '../../src/db/tenants.ts'
import { BENCH_PHC, createBenchOnlyHasher } from './bench-only-hasher.ts'
import { captureStatements, toPgbenchScript, type PgbenchScript } from './capture-statements.ts'
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
export async function seedCampaign(sql: Sql, options: { slug: string; chainShards: number; accounts: number }): Promise<Campaign> {
  const tenant = await createTenant(sql, { slug: options.slug, chainShards: options.chainShards, lockoutPolicy: { maxFailures: 1000 } })
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
 * Drives `attemptLogin` (find the account, verify the password, one transaction: lock the lockout row,
 * decide, save the lockout state, append to the chain, write auth_logs and outbox) from `clients` async
 * loops over a pool of exactly `clients` connections. An answer other than invalid credentials counts
 * as an error.
 */
export async function runServiceCampaign(url: string, campaign: Campaign, clients: number, durationMs: number, warmupMs: number): Promise<CampaignRun> {
  const sql = createSql(url, { max: clients })
  const deps = campaignDeps(sql)
  let meter: ReturnType<typeof startCpuMeter> | null = null
  try {
    const result = await runClosedLoop(
      clients,
      durationMs,
      async () => {
        const result = await attemptLogin(deps, campaignInput(campaign, Math.floor(Math.random() * campaign.accounts)))
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

export interface CampaignPgbench extends PgbenchScript {
  file: string
  statements: string[]
}

/**
 * Captures the statements one real attempt sends (through `attemptLogin` and the client's debug hook)
 * and writes them as a pgbench script: the same texts in the same order, with the account, its shard,
 * the ids read back (`\gset`, as the service reads them) and fresh event ids bound per transaction.
 * Everything else is sent as the captured value.
 */
export async function writeCampaignPgbenchScript(url: string, campaign: Campaign, dir: string, label: string): Promise<CampaignPgbench> {
  const { result, statements } = await captureStatements(url, (sql) => attemptLogin(campaignDeps(sql), campaignInput(campaign, 0)))
  if (result.kind !== 'invalid_credentials') throw new Error(`capture attempt answered ${result.kind}`)
  // The script follows whatever the write path sends; these are the invariants the bindings below rely on.
  const shape = statements.map((s) => s.text.trim().split(/\s+/).slice(0, 3).join(' ').toLowerCase())
  const count = (prefix: string) => shape.filter((x) => x.startsWith(prefix)).length
  if (shape[0] !== 'select u.id as' || shape[1] !== 'begin' || shape.at(-1) !== 'commit' || count('update chain_heads set') !== 1 || count('with logs as') !== 1) {
    throw new Error(`the write path's statements changed shape; update the benchmark's bindings:\n${shape.join('\n')}`)
  }

  const generated = toPgbenchScript(
    statements,
    (column) => {
      switch (column) {
        case 'tenant_id':
          return { kind: 'variable', name: 'tenant' }
        case 'identifier':
          return { kind: 'variable', name: 'acct' }
        case 'shard':
          return { kind: 'variable', name: 'shard' }
        case 'seq':
          return { kind: 'variable', name: 'seq' }
        case 'user_id':
        case 'organisation_id':
          return { kind: 'variable', name: column }
        case 'id':
        case 'event_id':
          return { kind: 'expression', sql: PG_UUIDV7_EXPRESSION }
        default:
          return undefined
      }
    },
    (text) => /FROM \(SELECT 1\) AS one/.test(text) || /^\s*UPDATE chain_heads SET seq/.test(text),
  )
  const header = [
    `-- Generated by bench/support/campaign.ts from the statements attemptLogin sent (captured with the client's debug hook).`,
    `\\set acct random(${ACCOUNT_BASE}, ${ACCOUNT_BASE + campaign.accounts - 1})`,
    `\\set shard :acct % ${campaign.tenant.chainShards}`,
  ]
  const file = join(dir, `${label}.pgbench.sql`)
  writeFileSync(file, `${header.join('\n')}\n${generated.script}`)
  return { ...generated, defines: { ...generated.defines, tenant: campaign.tenant.id }, file, statements: statements.map((s) => s.text.trim()) }
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
