import type { Sql } from '../../src/db/client.ts'
import { createOrganisation, createTenant, type Tenant } from '../../src/db/tenants.ts'

/**
 * Data for the query benchmark, generated in SQL (`INSERT ... SELECT FROM generate_series`) because
 * millions of rows must load in seconds. The chain columns (digests, links) are constant filler bytes of
 * the real sizes: the investigation queries never read them for verification, and nothing here is
 * verified. Sequence numbers are unique per chain and increase with time within a chain, and every
 * identifier stays in one shard, as the queries assume; they are not gapless.
 *
 * Shape of the investigated tenant: `background` ordinary attempts over 30 days (70 % successes,
 * 50,000 accounts, each from its own address), and one attack hour in the middle holding the same
 * events whatever the tenant's size: 50,000 failures sprayed from 200 addresses over 5,000 accounts,
 * 500 lockouts and their resets, 50 successes from attacker addresses after failures, and one victim
 * account locked five times (the lockout diagnostics subject).
 */
export interface InvestigationData {
  tenant: Tenant
  organisationId: string
  /** The attack hour. */
  attack: { from: Date; to: Date }
  /** The whole 30 days. */
  history: { from: Date; to: Date }
  victim: string
  events: number
}

const DAY_MS = 86_400_000
export const ATTACK_EVENTS = 50_000
const ATTACK_ACCOUNTS = 5_000
const ACCOUNTS = 50_000

/** Constant filler of the digests' and links' real sizes. */
const FILLER = sqlFiller()
function sqlFiller(): string {
  return `decode(repeat('ab', 32), 'hex'), decode(repeat('cd', 64), 'hex'), decode(repeat('ef', 32), 'hex'), decode(repeat('01', 32), 'hex'), decode(repeat('23', 32), 'hex')`
}

const COLUMNS = `id, tenant_id, organisation_id, shard, seq, event_type, channel, user_id, identifier, ip, user_agent, device_id,
  occurred_at, outcome, reason, risk, metadata, token_jti, actor_id, expires_at,
  digest_sha256, digest_sha512, digest_sha3_256, prev_hash, chain_hash`

/**
 * A chain position that follows time, as the service's appends do: the event's millisecond, then which
 * insert it comes from (`kind`, 0–3) and its number, so positions are unique per chain and ordered by time.
 */
const seqAt = (ts: string, kind: number, n: string) => `((extract(epoch FROM ${ts}) * 1000)::bigint * 4096 + ${kind * 1024} + (${n}) % 1024)`

/** A time-ordered UUID from a timestamp and a distinguishing integer, like the service's UUIDv7. */
const uuidAt = (ts: string, n: string) => `(lpad(to_hex((extract(epoch FROM ${ts}) * 1000)::bigint), 12, '0') || '7' || substr(md5(${n}::text || random()::text), 1, 19))::uuid`

/** Ordinary traffic of one tenant: `count` attempts spread evenly over the 30 days ending at `end`. */
async function insertBackground(sql: Sql, tenantId: string, organisationId: string, count: number, end: Date): Promise<void> {
  const start = new Date(end.getTime() - 30 * DAY_MS)
  const stepMs = (30 * DAY_MS) / count
  // Batches keep each statement's memory small; rows are ordered by time within and across batches.
  const batch = 1_000_000
  for (let from = 1; from <= count; from += batch) {
    const to = Math.min(count, from + batch - 1)
    await sql.unsafe(`
      INSERT INTO auth_logs (${COLUMNS})
      SELECT ${uuidAt('t', 'g')}, $1::uuid, $2::uuid, a % 16, ${seqAt('t', 0, 'g')},
        CASE WHEN g % 10 < 7 THEN 'login_success' ELSE 'login_failed' END,
        CASE WHEN g % 3 = 0 THEN 'mobile' ELSE 'web' END,
        md5('user' || a)::uuid, 'user' || a || '@example.com',
        '100.' || (64 + a / 62500) || '.' || (a / 250 % 250) || '.' || (a % 250 + 1),
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
        CASE WHEN g % 3 = 0 THEN 'ios-' || a ELSE NULL END,
        t, CASE WHEN g % 10 < 7 THEN 'success' ELSE 'failure' END,
        CASE WHEN g % 10 < 7 THEN NULL ELSE 'invalid_credentials' END,
        '{"score":0,"signals":[]}'::jsonb,
        CASE WHEN g % 10 < 7 THEN jsonb_build_object('token_expires_at', t + interval '1 hour')
             ELSE '{"failed_attempts":1,"locked_until":null}'::jsonb END,
        CASE WHEN g % 10 < 7 THEN md5('jti' || g) ELSE NULL END, NULL, t + interval '365 days',
        ${FILLER}
      FROM generate_series($3::int, $4::int) AS g,
        LATERAL (SELECT (g::bigint * 7919) % ${ACCOUNTS} AS a, $5::timestamptz + (g * $6::float8) * interval '1 millisecond' AS t) AS x`,
      [tenantId, organisationId, from, to, start.toISOString(), stepMs] as never[],
    )
  }
}

/** The attack hour: the same events in every data set. */
async function insertAttack(sql: Sql, tenantId: string, organisationId: string, from: Date): Promise<string> {
  const hourMs = 3_600_000
  const p = [tenantId, organisationId, from.toISOString()] as never[]
  // Sprayed failures: each address names many accounts, each account is tried from many addresses.
  await sql.unsafe(`
    INSERT INTO auth_logs (${COLUMNS})
    SELECT ${uuidAt('t', 'g')}, $1::uuid, $2::uuid, a % 16, ${seqAt('t', 1, 'g')}, 'login_failed', 'web',
      md5('user' || a)::uuid, 'user' || a || '@example.com',
      CASE WHEN g % 2 = 0 THEN '203.0.113.' ELSE '198.51.100.' END || (g / 2 % 100 + 1),
      'python-requests/2.32.3', NULL, t, 'failure', 'invalid_credentials',
      '{"score":35,"signals":["repeated_failures"]}'::jsonb, '{"failed_attempts":3,"locked_until":null}'::jsonb,
      NULL, NULL, t + interval '365 days', ${FILLER}
    FROM generate_series(1, ${ATTACK_EVENTS}) AS g,
      LATERAL (SELECT (g * 37) % ${ATTACK_ACCOUNTS} AS a, $3::timestamptz + (g * ${hourMs / ATTACK_EVENTS}::float8) * interval '1 millisecond' AS t) AS x`, p)
  // Lockouts of 500 attacked accounts, and their expiry 5 minutes later.
  await sql.unsafe(`
    INSERT INTO auth_logs (${COLUMNS})
    SELECT ${uuidAt('t', 'g')}, $1::uuid, $2::uuid, a % 16, ${seqAt('t', 2, 'g')},
      CASE WHEN g % 2 = 0 THEN 'account_locked' ELSE 'lockout_reset' END, 'web', md5('user' || a)::uuid, 'user' || a || '@example.com',
      '203.0.113.' || (g % 100 + 1), 'python-requests/2.32.3', NULL, t,
      CASE WHEN g % 2 = 0 THEN 'failure' ELSE 'success' END,
      CASE WHEN g % 2 = 0 THEN 'too_many_failures' ELSE 'lockout_expired' END,
      '{"score":35,"signals":["repeated_failures"]}'::jsonb,
      CASE WHEN g % 2 = 0 THEN jsonb_build_object('failed_attempts', 5, 'locked_until', t + interval '5 minutes', 'lockout_count', 1, 'lock_duration_seconds', 300)
           ELSE '{"previous_failed_attempts":5,"lockout_count":1}'::jsonb END,
      NULL, NULL, t + interval '365 days', ${FILLER}
    FROM generate_series(0, 999) AS g,
      LATERAL (SELECT (g / 2 * 7) % ${ATTACK_ACCOUNTS} AS a,
                      $3::timestamptz + ((g / 2) * 6000 + (g % 2) * 300000) * interval '1 millisecond' AS t) AS x`, p)
  // Fifty successes from attacker addresses at the end of the hour, after the spraying: possible compromises.
  await sql.unsafe(`
    INSERT INTO auth_logs (${COLUMNS})
    SELECT ${uuidAt('t', 'g')}, $1::uuid, $2::uuid, a % 16, ${seqAt('t', 3, 'g')}, 'login_success', 'web',
      md5('user' || a)::uuid, 'user' || a || '@example.com', '203.0.113.' || (g % 100 + 1), 'python-requests/2.32.3', NULL, t,
      'success', NULL, '{"score":35,"signals":["repeated_failures"]}'::jsonb, jsonb_build_object('token_expires_at', t + interval '1 hour'),
      md5('jti-attack' || g), NULL, t + interval '365 days', ${FILLER}
    FROM generate_series(1, 50) AS g,
      LATERAL (SELECT (g * 97) % ${ATTACK_ACCOUNTS} AS a, $3::timestamptz + interval '59 minutes' + g * interval '1 second' AS t) AS x`, p)
  // The victim: five cycles of five failures, a lockout, three attempts refused while locked, and the expiry.
  const victim = 'victim@example.com'
  await sql.unsafe(`
    INSERT INTO auth_logs (${COLUMNS})
    SELECT ${uuidAt('t', 'i')}, $1::uuid, $2::uuid, 3, ${seqAt('t', 3, 'i + 512')},
      CASE WHEN k < 5 THEN 'login_failed' WHEN k = 5 THEN 'account_locked' WHEN k < 9 THEN 'login_failed' ELSE 'lockout_reset' END,
      'web', md5('victim')::uuid, '${victim}', '198.51.100.' || (k + 1), 'python-requests/2.32.3', NULL, t,
      CASE WHEN k = 9 THEN 'success' ELSE 'failure' END,
      CASE WHEN k < 5 THEN 'invalid_credentials' WHEN k = 5 THEN 'too_many_failures' WHEN k < 9 THEN 'account_locked' ELSE 'lockout_expired' END,
      '{"score":35,"signals":["repeated_failures"]}'::jsonb,
      CASE WHEN k < 5 THEN jsonb_build_object('failed_attempts', k + 1, 'locked_until', NULL)
           WHEN k = 5 THEN jsonb_build_object('failed_attempts', 5, 'locked_until', t + interval '5 minutes', 'lockout_count', c + 1, 'lock_duration_seconds', 300)
           WHEN k < 9 THEN jsonb_build_object('failed_attempts', 5, 'locked_until', t + interval '4 minutes')
           ELSE jsonb_build_object('previous_failed_attempts', 5, 'lockout_count', c + 1) END,
      NULL, NULL, t + interval '365 days', ${FILLER}
    FROM generate_series(0, 49) AS i,
      LATERAL (SELECT i / 10 AS c, i % 10 AS k, $3::timestamptz + i * interval '1 minute' AS t) AS x`, p)
  return victim
}

/**
 * Builds the data set: the investigated tenant with `events` events and three other tenants with a
 * quarter as many between them. Indexes are dropped during the load and rebuilt afterwards exactly as the
 * migrations define them (building an index once is much faster than maintaining it row by row).
 */
export async function buildInvestigationData(sql: Sql, events: number, log: (m: string) => void): Promise<InvestigationData> {
  const tenant = await createTenant(sql, { slug: `investigated-${events}` })
  const org = await createOrganisation(sql, tenant.id, 'investigated-org')
  const end = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS)
  const attackFrom = new Date(end.getTime() - 15 * DAY_MS + 13 * 3_600_000)

  const indexes = await sql<{ def: string }[]>`
    SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'auth_logs'
      AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'auth_logs'::regclass)`
  const constraints = await sql<{ name: string; def: string }[]>`
    SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
    WHERE conrelid = 'auth_logs'::regclass AND contype IN ('p', 'u')`
  for (const c of constraints) await sql.unsafe(`ALTER TABLE auth_logs DROP CONSTRAINT ${c.name}`)
  for (const i of indexes) await sql.unsafe(`DROP INDEX ${/INDEX (?:IF NOT EXISTS )?(\S+) ON/.exec(i.def)![1]}`)

  const t0 = performance.now()
  const background = events - ATTACK_EVENTS - 1_100
  await insertBackground(sql, tenant.id, org.id, background, end)
  const victim = await insertAttack(sql, tenant.id, org.id, attackFrom)
  for (let k = 0; k < 3; k++) {
    const other = await createTenant(sql, { slug: `other-${events}-${k}` })
    const otherOrg = await createOrganisation(sql, other.id, `other-${k}-org`)
    await insertBackground(sql, other.id, otherOrg.id, Math.round(events / 12), end)
  }
  log(`  ${events.toLocaleString('en-US')} events (+${Math.round(events / 4).toLocaleString('en-US')} in other tenants) inserted in ${((performance.now() - t0) / 1000).toFixed(0)} s`)

  const t1 = performance.now()
  await sql.begin(async (tx) => {
    await tx`SET LOCAL maintenance_work_mem = '1GB'`
    for (const c of constraints) await tx.unsafe(`ALTER TABLE auth_logs ADD CONSTRAINT ${c.name} ${c.def}`)
    for (const i of indexes) await tx.unsafe(i.def)
  })
  await sql`VACUUM ANALYZE auth_logs`
  log(`  ${constraints.length + indexes.length} indexes rebuilt, vacuumed and analysed in ${((performance.now() - t1) / 1000).toFixed(0)} s`)

  const [count] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${tenant.id}`
  return {
    tenant,
    organisationId: org.id,
    attack: { from: attackFrom, to: new Date(attackFrom.getTime() + 3_600_000) },
    history: { from: new Date(end.getTime() - 30 * DAY_MS), to: new Date(end.getTime() + 1) },
    victim,
    events: count!.n,
  }
}
