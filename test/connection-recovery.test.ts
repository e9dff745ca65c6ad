import { afterAll, beforeAll, expect, it } from 'vitest'
import { createSql, type Sql } from '../src/db/client.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.ts'

// After a network reset closes every connection of the service's pool at once, the pool must be usable
// again within a request's bound: the look-up of a write whose connection the reset took runs on it
// (audit/unknown-write-outcome.ts) and has 4 s. postgres.js's default reconnect back-off counted each
// connection the reset closed as one more consecutive failure, so the last of a pool of ten waited 10 to
// 20 s before connecting, and so did the queries given to them (src/db/client.ts, reconnectDelaySeconds).
// And a query given a connection between the reset's 'error' and its 'close' was never answered at all
// (postgres.js rejected what was pending only on a close without an error; patches/postgres+3.4.9.patch).

/** The unknown outcome's look-up budget: what any query after a reset must be answered within. */
const LOOKUP_BUDGET_MS = 4_000
const POOL = 10

class Unanswered extends Error {}

/** Rejects after `ms`: a query neither answered nor failed by then is taken as never to be answered. */
function unanswered(ms: number): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Unanswered(`a query after the reset was neither answered nor failed within ${ms} ms`)), ms).unref())
}

let db: TestDatabase
let proxy: FaultProxy
let sql: Sql

beforeAll(async () => {
  db = await createTestDatabase('connection_recovery', { max: 1 })
  proxy = await startFaultProxy(db.url)
  sql = createSql(proxy.url, { max: POOL })
}, 120_000)

afterAll(async () => {
  await sql?.end({ timeout: 5 })
  await proxy?.close()
  await db?.drop()
})

it('every connection of the pool reset at once, twice: each of as many queries is answered within the look-up budget', async () => {
  for (const round of [1, 2]) {
    // Every connection of the pool open: as many queries at once as it has connections, each held a moment.
    await Promise.all(Array.from({ length: POOL }, () => sql`SELECT pg_sleep(0.1)`))
    proxy.cut()
    const cutAt = performance.now()
    const answeredAfter = await Promise.all(
      Array.from({ length: POOL }, async () => {
        // A query may still meet a connection the reset is closing (ECONNRESET): asked again, as the look-up does.
        for (;;) {
          try {
            await Promise.race([sql`SELECT 1`, unanswered(30_000)])
            return Math.round(performance.now() - cutAt)
          } catch (error) {
            if (error instanceof Unanswered || performance.now() - cutAt > 60_000) throw error
          }
        }
      }),
    )
    expect(Math.max(...answeredAfter), `round ${round}: answered after ${answeredAfter.join(', ')} ms`).toBeLessThan(LOOKUP_BUDGET_MS)
  }
}, 180_000)
