import { describe, expect, it } from 'vitest'
import { HOUR_MS, planWindow } from '../src/core/rollup-buckets.ts'
import type { TenantScope } from '../src/core/tenancy.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { DEFAULT_ROLE_NAMES } from '../src/db/migrate.ts'
import { createOrganisation, createTenant, type Tenant } from '../src/db/tenants.ts'
import { foldIncidentRollups } from '../src/investigation/fold-incident-rollups.ts'
import { buildIncidentReport, type IncidentReport, type IncidentReportOptions } from '../src/investigation/incident-report.ts'
import { useTestDatabase } from './support/database.ts'
import { recordTestEvents, type TestEventInput } from './support/test-events.ts'

/**
 * The incident report read from the rollups equals the full scan, byte for byte, on randomised attempts
 * over three days (with empty hours, anonymous attempts, two organisations and events outside the scope),
 * for windows with partial hours at both ends, inside one hour, aligned on hours and past the folded range.
 * The campaign replayed through the login endpoints is compared in investigation-campaign.test.ts.
 */

const db = useTestDatabase('rollups', { max: 4 })

/** A small deterministic generator (mulberry32): the same data on every run, so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const IDENTIFIERS = ['alice@acme.test', 'bob@acme.test', 'carol@acme.test', 'dave@acme.test', 'ghost@acme.test', null]
const IPS = ['203.0.113.1', '203.0.113.2', '198.51.100.7', '2001:db8::1', null]
const TYPES = ['login_failed', 'login_failed', 'login_failed', 'login_success', 'account_locked', 'lockout_reset'] as const

/** `count` attempts over `hours` hours ending `endHour` hours ago (whole hours), every fifth hour empty. */
function randomAttempts(rand: () => number, start: Date, hours: number, count: number, organisations: (string | null)[]): TestEventInput[] {
  const inputs: TestEventInput[] = []
  for (let i = 0; i < count; i++) {
    let hour = Math.floor(rand() * hours)
    if (hour % 5 === 3) hour++
    const at = new Date(start.getTime() + hour * HOUR_MS + Math.floor(rand() * HOUR_MS))
    const eventType = TYPES[Math.floor(rand() * TYPES.length)]!
    const identifier = IDENTIFIERS[Math.floor(rand() * IDENTIFIERS.length)]!
    inputs.push({
      eventType,
      at,
      identifier,
      ip: IPS[Math.floor(rand() * IPS.length)]!,
      organisationId: organisations[Math.floor(rand() * organisations.length)]!,
      ...(eventType === 'lockout_reset' && { reason: rand() < 0.5 ? 'lockout_expired' : 'login_succeeded' }),
    })
  }
  return inputs.sort((a, b) => a.at!.getTime() - b.at!.getTime())
}

const options = (window: { from: Date; to: Date }, rand: () => number): IncidentReportOptions => ({
  ...window,
  minFailures: 1 + Math.floor(rand() * 3),
  sprayMinAccounts: 1 + Math.floor(rand() * 3),
  distributedMinIps: 1 + Math.floor(rand() * 3),
  limit: 2 + Math.floor(rand() * 4),
  failureDetailLimit: 3,
})

async function both(sql: Sql, scope: TenantScope, o: IncidentReportOptions): Promise<{ rolled: IncidentReport; scanned: IncidentReport }> {
  const rolled = await buildIncidentReport(sql, scope, { ...o, source: 'rollups' })
  const scanned = await buildIncidentReport(sql, scope, { ...o, source: 'events' })
  return { rolled, scanned }
}

async function foldedRange(sql: Sql, tenantId: string): Promise<{ validFrom: Date; foldedUntil: Date } | null> {
  const [w] = await sql<{ valid_from: Date; folded_until: Date }[]>`SELECT valid_from, folded_until FROM incident_rollup_watermarks WHERE tenant_id = ${tenantId}`
  return w ? { validFrom: w.valid_from, foldedUntil: w.folded_until } : null
}

/** The suspicious successes by their definition, over every account's attempts in chain order (no candidates picked first). */
async function flaggedRuns(sql: Sql, scope: TenantScope, o: IncidentReportOptions): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    WITH a AS (
      SELECT identifier, event_type,
        count(*) FILTER (WHERE event_type = 'login_success') OVER (PARTITION BY identifier ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS run
      FROM auth_logs
      WHERE tenant_id = ${scope.tenantId} AND occurred_at >= ${o.from} AND occurred_at < ${o.to} AND identifier IS NOT NULL
        AND event_type IN ('login_failed', 'login_success')
        AND (${scope.organisationId}::uuid IS NULL OR organisation_id = ${scope.organisationId} OR organisation_id IS NULL)
    )
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM a GROUP BY identifier, run
      HAVING bool_or(event_type = 'login_success') AND count(*) FILTER (WHERE event_type = 'login_failed') >= ${o.minFailures}
    ) r`
  return row!.n
}

const rollupRows = (sql: Sql, tenantId: string) =>
  sql`SELECT level, bucket_start, organisation_id, identifier, ip, user_id, failures, successes, lockouts, first_failure_at, last_failure_at, first_seen_at, last_seen_at
      FROM incident_rollups WHERE tenant_id = ${tenantId}
      ORDER BY level, bucket_start, organisation_id NULLS FIRST, identifier NULLS FIRST, ip NULLS FIRST`

describe('incident rollups', () => {
  const HOURS = 72
  // Three days ending two hours before the current hour: every hour of the data is closed and due.
  const start = new Date((Math.floor(Date.now() / HOUR_MS) - HOURS - 2) * HOUR_MS)
  let tenant: Tenant
  let organisation: string
  let other: string
  let inputs: TestEventInput[]

  it('folds three days of randomised attempts, hour by hour, and folding again changes nothing', async () => {
    tenant = await createTenant(db.sql, { slug: 'rollups' })
    organisation = (await createOrganisation(db.sql, tenant.id, 'one')).id
    other = (await createOrganisation(db.sql, tenant.id, 'two')).id
    inputs = randomAttempts(random(15), start, HOURS, 700, [organisation, other, null])
    await recordTestEvents(db.sql, tenant, inputs)
    // Another tenant with the same kind of traffic: never counted in this tenant's rollups.
    const noise = await createTenant(db.sql, { slug: 'rollups-noise' })
    await recordTestEvents(db.sql, noise, randomAttempts(random(16), start, HOURS, 100, [null]))

    const first = await foldIncidentRollups(db.sql, { lagSeconds: 60 })
    expect(first.hours).toBeGreaterThanOrEqual(HOURS)
    const range = (await foldedRange(db.sql, tenant.id))!
    expect(range.validFrom.getTime()).toBe(start.getTime())
    expect(range.foldedUntil.getTime()).toBeGreaterThanOrEqual(start.getTime() + HOURS * HOUR_MS)
    const rows = await rollupRows(db.sql, tenant.id)
    // The level-0 rows hold every attempt of the tenant once.
    const [raw] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${tenant.id} AND event_type IN ('login_failed', 'login_success', 'account_locked')`
    const level0 = rows.filter((r) => r.level === 0).reduce((n, r) => n + r.failures + r.successes + r.lockouts, 0)
    expect(level0).toBe(raw!.n)
    // Every level above sums to the same within the hours it covers.
    expect(rows.some((r) => r.level >= 5)).toBe(true)

    const again = await foldIncidentRollups(db.sql, { lagSeconds: 60 })
    expect(again.hours).toBe(0)
    expect(await rollupRows(db.sql, tenant.id)).toEqual(rows)
  })

  it('answers like the full scan for windows with partial hours at both ends, inside one hour, aligned, and past the folded hours', async () => {
    const rand = random(42)
    const range = (await foldedRange(db.sql, tenant.id))!
    const at = (hours: number) => new Date(start.getTime() + hours * HOUR_MS)
    const windows: { from: Date; to: Date }[] = [
      { from: at(0), to: at(HOURS) },
      { from: at(-3), to: at(HOURS + 3) },
      { from: new Date(at(5).getTime() + 1), to: new Date(at(40).getTime() - 1) },
      { from: new Date(at(7).getTime() + 123_456), to: new Date(at(7).getTime() + 2_000_000) },
      { from: at(3), to: at(4) },
      { from: at(8), to: at(9) },
      { from: new Date(at(0).getTime() - 1), to: new Date(Date.now() + HOUR_MS) },
    ]
    for (let i = 0; i < 30; i++) {
      const a = Math.floor(rand() * HOURS * HOUR_MS)
      const b = Math.floor(rand() * HOURS * HOUR_MS)
      windows.push({ from: new Date(start.getTime() + Math.min(a, b)), to: new Date(start.getTime() + Math.max(a, b) + 1) })
    }
    let rolledUp = 0
    for (const window of windows) {
      const o = options(window, rand)
      if (planWindow(o.from, o.to, range).buckets.length > 0) rolledUp++
      for (const scope of [{ tenantId: tenant.id, organisationId: null }, { tenantId: tenant.id, organisationId: organisation }]) {
        const { rolled, scanned } = await both(db.sql, scope, o)
        expect(JSON.stringify(rolled), `${window.from.toISOString()} – ${window.to.toISOString()}`).toBe(JSON.stringify(scanned))
        // Both read the candidates the pairs name: the count of flagged runs is checked against every account's runs.
        expect(rolled.totals.suspicious_successes).toBe(await flaggedRuns(db.sql, scope, o))
      }
    }
    // Most windows were answered from the rollups, not by falling back to the scan.
    expect(rolledUp).toBeGreaterThan(windows.length / 2)
    // The whole range has something to say in every section the rollups feed.
    const { rolled } = await both(db.sql, { tenantId: tenant.id, organisationId: null }, { ...options(windows[0]!, rand), minFailures: 2 })
    expect(rolled.totals.failures).toBeGreaterThan(100)
    expect(rolled.targeted_accounts.length).toBeGreaterThan(0)
    expect(rolled.suspicious_successes.length).toBeGreaterThan(0)
  })

  it('reads the rollups for whole hours: a rollup row changed behind its back changes the report', async () => {
    const window = { from: new Date(start.getTime() + 1), to: new Date(start.getTime() + 48 * HOUR_MS - 1) }
    const o = { ...options(window, random(7)), limit: 50 }
    const scope = { tenantId: tenant.id, organisationId: null }
    const before = await both(db.sql, scope, o)
    expect(before.rolled).toEqual(before.scanned)
    await db.sql`UPDATE incident_rollups SET failures = failures + 1000 WHERE tenant_id = ${tenant.id} AND failures > 0`
    try {
      const after = await both(db.sql, scope, o)
      expect(after.rolled.totals.failures).toBeGreaterThan(before.rolled.totals.failures)
      expect(after.scanned).toEqual(before.scanned)
    } finally {
      await db.sql`UPDATE incident_rollups SET failures = failures - 1000 WHERE tenant_id = ${tenant.id} AND failures > 0`
    }
    const restored = await both(db.sql, scope, o)
    expect(restored.rolled).toEqual(before.scanned)
  })

  it('folds nothing of an hour still within the lag, and nothing twice when two folders race', async () => {
    const late = await createTenant(db.sql, { slug: 'rollups-race' })
    const hours = 30
    const from = new Date((Math.floor(Date.now() / HOUR_MS) - hours) * HOUR_MS)
    await recordTestEvents(db.sql, late, randomAttempts(random(3), from, hours, 150, [null]))
    // The current hour (and the one before it, within a lag of two hours) stay unfolded.
    const a = createSql(db.url, { max: 1 })
    const b = createSql(db.url, { max: 1 })
    try {
      const fold = (sql: Sql) => sql<{ hour: Date | null }[]>`SELECT fold_incident_rollup_hour(${late.id}, interval '2 hours') AS hour`
      const hoursFolded: number[] = []
      for (;;) {
        const [x, y] = await Promise.all([fold(a), fold(b)])
        const done = [x[0]!.hour, y[0]!.hour].filter((h): h is Date => h !== null)
        hoursFolded.push(...done.map((h) => h.getTime()))
        if (done.length === 0) break
      }
      expect(new Set(hoursFolded).size).toBe(hoursFolded.length)
      const range = (await foldedRange(db.sql, late.id))!
      expect(range.foldedUntil.getTime()).toBeLessThanOrEqual(Date.now() - 2 * HOUR_MS)
      expect(range.foldedUntil.getTime()).toBeGreaterThan(Date.now() - 3 * HOUR_MS)
      const [dup] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM (SELECT 1 FROM incident_rollups WHERE tenant_id = ${late.id}
          GROUP BY level, bucket_start, organisation_id, identifier, ip HAVING count(*) > 1) d`
      expect(dup!.n).toBe(0)
      const o = options({ from: new Date(from.getTime() + 1), to: new Date() }, random(9))
      const { rolled, scanned } = await both(db.sql, { tenantId: late.id, organisationId: null }, o)
      expect(JSON.stringify(rolled)).toBe(JSON.stringify(scanned))
    } finally {
      await Promise.all([a.end(), b.end()])
    }
  })

  it('a fold cut off before its commit leaves nothing behind, and the next fold completes the hour', async () => {
    const crash = await createTenant(db.sql, { slug: 'rollups-crash' })
    const from = new Date((Math.floor(Date.now() / HOUR_MS) - 6) * HOUR_MS)
    await recordTestEvents(db.sql, crash, randomAttempts(random(5), from, 4, 80, [null]))
    const victim = createSql(db.url, { max: 1 })
    const killed = victim
      .begin(async (tx) => {
        const [folded] = await tx<{ hour: Date | null }[]>`SELECT fold_incident_rollup_hour(${crash.id}, interval '1 minute') AS hour`
        expect(folded!.hour!.getTime()).toBe(from.getTime())
        const [written] = await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM incident_rollups WHERE tenant_id = ${crash.id}`
        expect(written!.n).toBeGreaterThan(0)
        // The process dies between writing the hour's rows and committing them with the watermark.
        const [backend] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`
        await db.sql`SELECT pg_terminate_backend(${backend!.pid})`
        await tx`SELECT 1`
      })
      .then(() => 'committed', () => 'cut off')
    expect(await killed).toBe('cut off')
    await victim.end({ timeout: 1 }).catch(() => undefined)

    const [w] = await db.sql<{ folded_until: Date }[]>`SELECT folded_until FROM incident_rollup_watermarks WHERE tenant_id = ${crash.id}`
    expect(w === undefined || w.folded_until.getTime() === from.getTime()).toBe(true)
    const [left] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM incident_rollups WHERE tenant_id = ${crash.id}`
    expect(left!.n).toBe(0)

    await foldIncidentRollups(db.sql, { lagSeconds: 60 })
    const o = options({ from: new Date(from.getTime() - 1), to: new Date() }, random(11))
    const { rolled, scanned } = await both(db.sql, { tenantId: crash.id, organisationId: null }, o)
    expect(JSON.stringify(rolled)).toBe(JSON.stringify(scanned))
    expect(rolled.totals.login_attempts).toBeGreaterThan(0)
  })

  it('after a retention purge the rollups no longer count the deleted events', async () => {
    const short = await createTenant(db.sql, { slug: 'rollups-retention', retentionDays: 1 })
    const from = new Date((Math.floor(Date.now() / HOUR_MS) - 40) * HOUR_MS)
    await recordTestEvents(db.sql, short, randomAttempts(random(21), from, 38, 200, [null]))
    await foldIncidentRollups(db.sql, { lagSeconds: 60 })
    const before = (await foldedRange(db.sql, short.id))!
    const [purged] = await db.sql<{ deleted: number }[]>`SELECT sum(deleted)::int AS deleted FROM purge_expired_auth_logs(${short.id}, now())`
    expect(purged!.deleted).toBeGreaterThan(0)
    const after = (await foldedRange(db.sql, short.id))!
    expect(after.validFrom.getTime()).toBeGreaterThan(before.validFrom.getTime())
    const o = options({ from: new Date(from.getTime() - 1), to: new Date() }, random(13))
    const { rolled, scanned } = await both(db.sql, { tenantId: short.id, organisationId: null }, o)
    expect(JSON.stringify(rolled)).toBe(JSON.stringify(scanned))
    expect(planWindow(o.from, o.to, after).buckets.length).toBeGreaterThan(0)
  })

  it('the runtime role reads the rollups and runs the fold, but cannot write them', async () => {
    const url = new URL(db.url)
    url.username = DEFAULT_ROLE_NAMES.runtime
    const runtime = createSql(url.toString(), { max: 1 })
    try {
      await expect(runtime`SELECT count(*) FROM incident_rollups`).resolves.toHaveLength(1)
      await expect(runtime`SELECT fold_incident_rollup_hour(${tenant.id}, interval '1 minute')`).resolves.toHaveLength(1)
      await expect(runtime`UPDATE incident_rollups SET failures = 0`).rejects.toMatchObject({ code: '42501' })
      await expect(runtime`DELETE FROM incident_rollups`).rejects.toMatchObject({ code: '42501' })
      await expect(runtime`INSERT INTO incident_rollup_watermarks (tenant_id, valid_from, folded_until) VALUES (${tenant.id}, now(), now())`).rejects.toMatchObject({ code: '42501' })
      await expect(runtime`UPDATE incident_rollup_watermarks SET folded_until = folded_until + interval '1 day'`).rejects.toMatchObject({ code: '42501' })
    } finally {
      await runtime.end()
    }
  })
})
