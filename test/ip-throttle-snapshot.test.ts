import { describe, expect, it } from 'vitest'
import { jsonInstantMicros, readThrottleSnapshot } from '../src/db/ip-throttles.ts'
import { useTestDatabase } from './support/database.ts'
import { useSeededTenant } from './support/test-app.ts'

// A login's throttle snapshot reads its network's row as stored and counts the failed accounts itself
// (db/ip-throttles.ts); append_login_attempt() trusts that count while the row is the version read and
// nothing has aged out of the window. These check the count is the database's own, to the microsecond.
const db = useTestDatabase('ip_throttle_snapshot')
const acme = useSeededTenant(db, { slug: 'acme' })

describe('the throttle snapshot', () => {
  it('reads the instants PostgreSQL writes into JSON to the microsecond, whatever the session time zone', async () => {
    const reserved = await db.sql.reserve()
    try {
      for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham']) {
        await reserved.unsafe(`SET TimeZone = '${zone}'`)
        const rows = await reserved<{ noted: { at: string }; micros: string }[]>`
          SELECT jsonb_build_object('at', x) AS noted, (extract(epoch FROM x) * 1000000)::bigint::text AS micros
          FROM (SELECT timestamptz '2026-12-02 06:31:26.030001+00' - g * interval '1 day 3 hours 7 minutes 11.123457 seconds' AS x
                FROM generate_series(0, 200) AS g
                UNION ALL SELECT timestamptz '2026-12-02 06:31:26+00' UNION ALL SELECT timestamptz '1970-01-01 00:00:00.000001+00') AS s`
        for (const row of rows) expect([zone, row.noted.at, jsonInstantMicros(row.noted.at)]).toEqual([zone, row.noted.at, Number(row.micros)])
      }
    } finally {
      reserved.release()
    }
    expect(jsonInstantMicros('2026-12-02 06:31:26+00')).toBeNull()
  })

  it('counts the other accounts failed since the window began as the database compares them, and gives the earliest noted', async () => {
    const network = '203.0.113.40/32'
    const since = new Date('2026-12-02T06:00:00.000Z')
    await db.sql`
      INSERT INTO ip_throttles (tenant_id, network, budget_full_at, spray_budget_full_at, episode_count, failed_accounts, updated_at)
      VALUES (${acme.tenant.id}, ${network}, now(), now(), 0,
              jsonb_build_object('just-in', timestamptz '2026-12-02 06:00:00.000001+00', 'at-the-start', timestamptz '2026-12-02 06:00:00+00',
                                 'just-out', timestamptz '2026-12-01 23:59:59.999999-06', 'own', timestamptz '2026-12-02 06:30:00+00'),
              now())`
    const snapshot = await readThrottleSnapshot(db.sql, acme.tenant.id, network, 'own', since)
    const [database] = await db.sql<{ others: number; oldest: string; own: string; xmin: string }[]>`
      SELECT (SELECT count(*)::int FROM jsonb_each_text(t.failed_accounts) a WHERE a.key <> 'own' AND a.value::timestamptz > ${since}) AS others,
             (SELECT a.value FROM jsonb_each_text(t.failed_accounts) a ORDER BY a.value::timestamptz LIMIT 1) AS oldest,
             t.failed_accounts->>'own' AS own, t.xmin::text AS xmin
      FROM ip_throttles t WHERE t.tenant_id = ${acme.tenant.id} AND t.network = ${network}`
    expect(database!.others).toBe(1)
    expect(snapshot.otherFailedAccounts).toBe(database!.others)
    expect(snapshot.version).toMatchObject({ xmin: database!.xmin, oldestFailedAt: database!.oldest, ownFailedAt: database!.own })
  })
})
