import { describe, expect, it } from 'vitest'
import { purgeExpiredEvents } from '../src/admin/purge-expired-events.ts'
import { SYSTEM_ACTOR } from '../src/admin/admin-actor.ts'
import { LOCKOUT_ESCALATION_MEMORY_SECONDS } from '../src/core/lockout-policy.ts'
import { useTestDatabase } from './support/database.ts'
import { useSeededTenant } from './support/test-app.ts'

// The retention job removes lockout rows that decide nothing: not locked, failure window closed, escalation
// forgotten. Rows are kept per attempted identifier, so without this every identifier ever tried stayed.

const db = useTestDatabase('retention_lockouts')
const acme = useSeededTenant(db, { slug: 'acme', lockoutPolicy: { windowSeconds: 900 } })
const other = useSeededTenant(db, { slug: 'other', lockoutPolicy: { windowSeconds: 900 } })

const HOUR = 3_600_000

describe('retention and lockout rows', () => {
  it('removes idle rows of the purged tenant only, keeping locked ones, open windows and remembered escalation', async () => {
    const now = Date.now()
    const at = (msAgo: number | null) => (msAgo === null ? null : new Date(now - msAgo))
    const rows = [
      { tenant: acme, identifier: 'idle@acme.test', window: 2 * HOUR, lockedUntil: null, lastLocked: null, stays: false },
      { tenant: acme, identifier: 'ghost-never-existed@acme.test', window: 30 * 24 * HOUR, lockedUntil: null, lastLocked: null, stays: false },
      { tenant: acme, identifier: 'window-open@acme.test', window: 60_000, lockedUntil: null, lastLocked: null, stays: true },
      { tenant: acme, identifier: 'locked@acme.test', window: 2 * HOUR, lockedUntil: -HOUR, lastLocked: 2 * HOUR, stays: true },
      { tenant: acme, identifier: 'escalation-remembered@acme.test', window: 3 * HOUR, lockedUntil: 2 * HOUR, lastLocked: 3 * HOUR, stays: true },
      { tenant: acme, identifier: 'escalation-forgotten@acme.test', window: 3 * 24 * HOUR, lockedUntil: 2 * 24 * HOUR, lastLocked: LOCKOUT_ESCALATION_MEMORY_SECONDS * 1000 + HOUR, stays: false },
      { tenant: other, identifier: 'idle@other.test', window: 2 * HOUR, lockedUntil: null, lastLocked: null, stays: true },
    ]
    for (const r of rows) {
      await db.sql`
        INSERT INTO account_lockouts (tenant_id, identifier, failed_login_attempts, window_started_at, last_failed_at, account_locked_until, lockout_count, last_locked_at)
        VALUES (${r.tenant.tenant.id}, ${r.identifier}, 3, ${at(r.window)}, ${at(r.window)}, ${at(r.lockedUntil)}, ${r.lastLocked === null ? 0 : 1}, ${at(r.lastLocked)})`
    }

    const result = await purgeExpiredEvents({ sql: db.sql, clock: () => new Date(), signer: null }, { tenant: acme.tenant, before: new Date(), actor: SYSTEM_ACTOR })
    expect(result).toMatchObject({ purged_events: 0, removed_lockouts: 3, event_id: null })

    const left = await db.sql<{ identifier: string }[]>`SELECT identifier FROM account_lockouts ORDER BY identifier`
    expect(left.map((r) => r.identifier)).toEqual(rows.filter((r) => r.stays).map((r) => r.identifier).sort())
  })
})
