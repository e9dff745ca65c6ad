import { describe, expect, it } from 'vitest'
import { useTestDatabase } from './support/database.ts'
import { postJson, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('idempotency', { max: 10 })
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }, { identifier: 'bob@acme.test' }] })

const count = async (id: string) => {
  const [r] = await db.sql`SELECT (SELECT count(*)::int FROM auth_logs WHERE id = ${id}) AS logs, (SELECT count(*)::int FROM outbox WHERE event_id = ${id}) AS outbox`
  return r
}

describe('Idempotency-Key', () => {
  it('replays a successful login: same event, same token, nothing written twice', async () => {
    const alice = acme.users['alice@acme.test']!
    const body = { tenant: 'acme', identifier: alice.identifier, password: alice.password }
    const headers = { 'idempotency-key': 'retry-key-0001' }
    const first = await (await postJson(t.app, '/v1/auth/login', body, headers)).json()
    const [head1] = await db.sql`SELECT sum(seq)::int AS n FROM chain_heads WHERE tenant_id = ${acme.tenant.id}`
    const second = await postJson(t.app, '/v1/auth/login', body, headers)
    expect(second.status).toBe(200)
    const replay = await second.json()
    expect(replay.event_id).toBe(first.event_id)
    expect(replay.access_token).toBe(first.access_token)
    expect(await count(first.event_id)).toEqual({ logs: 1, outbox: 1 })
    const [head2] = await db.sql`SELECT sum(seq)::int AS n FROM chain_heads WHERE tenant_id = ${acme.tenant.id}`
    expect(head2!.n).toBe(head1!.n)
  })

  it('concurrent retries of one failed attempt record it once and leave no gap in the chain', async () => {
    const body = { tenant: 'acme', identifier: 'bob@acme.test', password: 'wrong-password' }
    const headers = { 'idempotency-key': 'retry-key-0002' }
    const responses = await Promise.all(Array.from({ length: 8 }, () => postJson(t.app, '/v1/auth/login', body, headers)))
    const bodies = await Promise.all(responses.map((r) => r.json()))
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([401]))
    expect(new Set(bodies.map((b) => b.event_id)).size).toBe(1)
    expect(await count(bodies[0].event_id)).toEqual({ logs: 1, outbox: 1 })
    const [lock] = await db.sql`SELECT failed_login_attempts FROM account_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'bob@acme.test'`
    expect(lock!.failed_login_attempts).toBe(1)
    const gaps = await db.sql`
      SELECT h.shard, h.seq, (SELECT count(*)::int FROM auth_logs l WHERE l.tenant_id = h.tenant_id AND l.shard = h.shard) AS n
      FROM chain_heads h WHERE h.tenant_id = ${acme.tenant.id} AND h.seq <> (SELECT count(*) FROM auth_logs l WHERE l.tenant_id = h.tenant_id AND l.shard = h.shard)`
    expect(gaps).toEqual([])
  })

  it('a success is replayed only with the same password; otherwise it is a new attempt', async () => {
    const alice = acme.users['alice@acme.test']!
    const headers = { 'idempotency-key': 'retry-key-0003' }
    const first = await (await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password: alice.password }, headers)).json()
    const stolen = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password: 'guess' }, headers)
    expect(stolen.status).toBe(401)
    const s = await stolen.json()
    expect(s.event_id).not.toBe(first.event_id)
    expect(await count(s.event_id)).toEqual({ logs: 1, outbox: 1 })
  })

  it('rejects a malformed key naming the header', async () => {
    const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'x', password: 'y' }, { 'idempotency-key': 'has space in it' })
    expect(res.status).toBe(400)
    expect((await res.json()).errors).toEqual([expect.objectContaining({ field: 'idempotency-key' })])
  })
})
