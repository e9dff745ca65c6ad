import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { uuidv7 } from '../src/core/ids.ts'
import { recordEventsChecked, type EventDraft } from '../src/audit/record-events.ts'
import { settleRequestWrites } from '../src/db/append-auth-events.ts'
import { RequestDeadlineError, withRequestDeadline, type RequestDeadline } from '../src/db/request-deadline.ts'
import { useTestDatabase } from './support/database.ts'
import { useSeededTenant } from './support/test-app.ts'
import { until } from './support/until.ts'
import { lockWaits } from './support/lock-waits.ts'

// A connection lost while an append committed leaves it unknown whether it did. The login settles the
// request's writes on another connection and then looks: these check that what it then reads is final,
// whichever of the append and the settlement reaches the database first.
const db = useTestDatabase('request_write_settlement')
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }] })

/** A request's context as the request bound makes it, with a deadline far enough not to decide anything here. */
function requestContext(writeToken = randomUUID()): RequestDeadline {
  return { signal: new AbortController().signal, writeBy: new Date(Date.now() + 120_000), writeToken, writesInFlight: new Map() }
}

function failedLogin(): EventDraft {
  const now = new Date()
  return {
    id: uuidv7(now.getTime()),
    eventType: 'login_failed',
    outcome: 'failure',
    reason: 'invalid_credentials',
    origin: { ip: '203.0.113.9', userAgent: 'vitest', deviceId: null, channel: 'web' },
    identifier: 'alice@acme.test',
    metadata: { failed_attempts: 1, locked_until: null },
  }
}

async function recorded(id: string): Promise<boolean> {
  const rows = await db.sql`SELECT 1 FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND id = ${id}`
  return rows.length === 1
}

describe('settling a request’s writes', () => {
  it('waits for an append still in its transaction, so that the commit that follows is seen by the lookup after it', async () => {
    const request = requestContext()
    const draft = failedLogin()
    let commit = () => {}
    const committed = new Promise<void>((resolve) => (commit = resolve))
    let appended = false
    const transaction = withRequestDeadline(request, () =>
      db.sql.begin(async (tx) => {
        await recordEventsChecked(tx, acme.tenant, [draft], { now: new Date() })
        appended = true
        await committed
      }),
    )
    await until(() => appended, 60_000, 'the append inside its transaction')

    let settled = false
    const settlement = withRequestDeadline(request, () => settleRequestWrites(db.sql)).then(() => (settled = true))
    await until(async () => (await lockWaits(db, 'advisory')) === 1, 60_000, 'the settlement to wait for the append’s transaction')
    expect(settled).toBe(false)

    commit()
    await transaction
    await settlement
    expect(await recorded(draft.id!)).toBe(true)
  })

  it('makes an append arriving afterwards write nothing, as the database being unavailable; another request’s appends are not concerned', async () => {
    const request = requestContext()
    await withRequestDeadline(request, () => settleRequestWrites(db.sql))

    const late = failedLogin()
    const refused = await withRequestDeadline(request, () => recordEventsChecked(db.sql, acme.tenant, [late], { now: new Date() })).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(RequestDeadlineError)
    expect(await recorded(late.id!)).toBe(false)

    const other = failedLogin()
    const answer = await withRequestDeadline(requestContext(), () => recordEventsChecked(db.sql, acme.tenant, [other], { now: new Date() }))
    expect(answer.kind).toBe('recorded')
    expect(await recorded(other.id!)).toBe(true)
  })

  it('answers at once, and changes nothing, outside a request', async () => {
    const [before] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM settled_request_writes`
    await settleRequestWrites(db.sql)
    const [after] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM settled_request_writes`
    expect(after!.n).toBe(before!.n)
  })
})
