import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { PermanentSinkError } from '../src/sinks/event-sink.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { createRecordingSink } from './support/recording-sink.ts'
import { bearerFor, createTestApp, postJson, seedTenant, type SeededTenant, type TestApp } from './support/test-app.ts'

let db: TestDatabase
let t: TestApp
let acme: SeededTenant
let globex: SeededTenant
const docstore = createRecordingSink('docstore')

beforeAll(async () => {
  db = await createTestDatabase('relay_routes')
  t = await createTestApp(db.sql, { sinks: [docstore] })
  acme = await seedTenant(db.sql, { slug: 'acme', users: [{ identifier: 'root@acme.test', role: 'admin' }, { identifier: 'bob@acme.test' }] })
  globex = await seedTenant(db.sql, { slug: 'globex', users: [{ identifier: 'root@globex.test', role: 'admin' }] })
})
afterAll(async () => {
  await db?.drop()
})

const get = async (path: string, auth?: string) => t.app.request(path, { headers: auth ? { authorization: auth } : {} })

describe('outbox administration routes', () => {
  it("show and re-drive only the caller's tenant's dead letters", async () => {
    // Real logins: two failures at acme, one at globex.
    for (const [slug, identifier] of [['acme', 'bob@acme.test'], ['acme', 'bob@acme.test'], ['globex', 'root@globex.test']]) {
      expect((await postJson(t.app, '/v1/auth/login', { tenant: slug, identifier, password: 'wrong-password' })).status).toBe(401)
    }
    // The document store refuses every login_failed event outright.
    docstore.failWith = (p) => (p.event.event_type === 'login_failed' ? new PermanentSinkError('refused', p.event.id) : null)
    await createOutboxRelay({ sql: db.sql, sinks: [docstore], listen: false }).drainOnce()

    const acmeAdmin = await bearerFor(t.tokens, acme, 'root@acme.test')
    const status = await get('/v1/admin/outbox/status', acmeAdmin)
    expect(status.status).toBe(200)
    expect(await status.json()).toEqual({ sinks: [{ sink: 'docstore', undelivered: 0, lag_seconds: 0, dead_letters: 2, retrying_chains: 0, last_error: null, last_error_at: null }] })

    const list = await get('/v1/admin/outbox/dead-letters?sink=docstore', acmeAdmin)
    const { items } = (await list.json()) as { items: { event_id: string; event_type: string; last_error: string; attempts: number }[] }
    expect(items).toHaveLength(2)
    expect(items.every((d) => d.event_type === 'login_failed' && d.attempts === 1 && d.last_error === 'PermanentSinkError: refused')).toBe(true)

    docstore.failWith = null
    const redrive = await postJson(t.app, '/v1/admin/outbox/dead-letters/redrive', { sink: 'docstore' }, { authorization: acmeAdmin })
    expect(redrive.status).toBe(200)
    const result = (await redrive.json()) as { redriven: string[]; failed: unknown[]; audit_event_ids: string[] }
    expect(result.redriven.sort()).toEqual(items.map((d) => d.event_id).sort())
    expect(result.failed).toEqual([])
    expect(result.audit_event_ids).toHaveLength(1)
    const [audit] = await db.sql`SELECT tenant_id, channel, actor_id, ip, event_type FROM auth_logs WHERE id = ${result.audit_event_ids[0]!}`
    expect(audit).toEqual({ tenant_id: acme.tenant.id, channel: 'admin', actor_id: acme.users['root@acme.test']!.id, ip: '203.0.113.7', event_type: 'dead_letters_redriven' })

    // globex's dead letter is untouched and still visible to globex only.
    const globexAdmin = await bearerFor(t.tokens, globex, 'root@globex.test')
    const globexList = (await (await get('/v1/admin/outbox/dead-letters', globexAdmin)).json()) as { items: unknown[] }
    expect(globexList.items).toHaveLength(1)
    const acmeAll = (await (await get('/v1/admin/outbox/dead-letters?state=all', acmeAdmin)).json()) as { items: { redriven_at: string | null }[] }
    expect(acmeAll.items.every((d) => d.redriven_at !== null)).toBe(true)
  })

  it('refuse callers who are not admins, unknown sinks and bad input', async () => {
    expect((await get('/v1/admin/outbox/status')).status).toBe(401)
    const user = await bearerFor(t.tokens, acme, 'bob@acme.test')
    expect((await get('/v1/admin/outbox/status', user)).status).toBe(403)
    const admin = await bearerFor(t.tokens, acme, 'root@acme.test')
    expect((await postJson(t.app, '/v1/admin/outbox/dead-letters/redrive', { sink: 'syslog' }, { authorization: admin })).status).toBe(404)
    const bad = await postJson(t.app, '/v1/admin/outbox/dead-letters/redrive', { sink: 'docstore', event_ids: ['nope'] }, { authorization: admin })
    expect(bad.status).toBe(400)
    expect((await get('/v1/admin/outbox/dead-letters?limit=0', admin)).status).toBe(400)
  })
})
