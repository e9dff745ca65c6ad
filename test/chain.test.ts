import { sign } from 'hono/jwt'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, postJson, TEST_JWT_SECRET, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('chain')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', chainShards: 2, users: [{ identifier: 'alice@acme.test' }, { identifier: 'auditor@acme.test', role: 'auditor' }, { identifier: 'bob@acme.test' }] })
const other = useSeededTenant(db, { slug: 'other', users: [{ identifier: 'admin@other.test', role: 'admin' }] })

beforeAll(async () => {
  for (let i = 0; i < 30; i++) {
    await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: i % 2 ? 'alice@acme.test' : `user${i}@acme.test`, password: 'wrong' })
  }
  await postJson(t.app, '/v1/auth/login', { tenant: 'other', identifier: 'x@other.test', password: 'wrong' })
})

/** Runs SQL as the superuser with triggers disabled: what an attacker with database access could do. */
async function asSuperuserBypassingTriggers(statement: string) {
  await db.sql.begin(async (tx) => {
    await tx`SET LOCAL session_replication_role = replica`
    await tx.unsafe(statement)
  })
}

describe('hash chain in PostgreSQL', () => {
  it('the database refuses UPDATE, DELETE and TRUNCATE of auth_logs', async () => {
    await expect(db.sql`UPDATE auth_logs SET outcome = 'success'`).rejects.toMatchObject({ code: 'AT001' })
    await expect(db.sql`DELETE FROM auth_logs`).rejects.toMatchObject({ code: 'AT001' })
    await expect(db.sql`TRUNCATE auth_logs CASCADE`).rejects.toMatchObject({ code: 'AT001' })
  })

  it('verifies an intact tenant and GET /v1/audit/verify answers for the caller tenant only', async () => {
    const result = await verifyTenantChain(db.sql, acme.tenant.id, nodeDigester)
    expect(result.ok).toBe(true)
    const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`
    const n = row!.n
    // 30 attempts, plus the account_locked event of alice's fifth failure, plus one ip_throttled: the
    // attempts come from one address and fail against 16 accounts, which active defence counts as spraying.
    const [throttled] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND event_type = 'ip_throttled'`
    expect(throttled!.n).toBe(1)
    expect(n).toBe(32)
    expect(result.verified_events).toBe(32)
    expect(result.shards.map((s) => s.shard)).toEqual([0, 1])
    const res = await t.app.request('/v1/audit/verify', { headers: { authorization: await bearerFor(t.tokens, acme, 'auditor@acme.test') } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ ok: true, verified_events: 32 })
    const theirs = await (await t.app.request('/v1/audit/verify', { headers: { authorization: await bearerFor(t.tokens, other, 'admin@other.test') } })).json()
    expect(theirs.verified_events).toBe(1)
  })

  it('refuses callers without a valid admin or auditor token, and tokens of another algorithm', async () => {
    expect((await t.app.request('/v1/audit/verify')).status).toBe(401)
    const user = await t.app.request('/v1/audit/verify', { headers: { authorization: await bearerFor(t.tokens, acme, 'alice@acme.test') } })
    expect(user.status).toBe(403)
    const now = Math.floor(Date.now() / 1000)
    const claims = { sub: acme.users['auditor@acme.test']!.id, tid: acme.tenant.id, org: acme.organisationId, role: 'auditor', jti: 'x', iat: now, exp: now + 60, iss: 'authtrail' }
    const hs512 = await sign(claims, TEST_JWT_SECRET, 'HS512')
    expect((await t.app.request('/v1/audit/verify', { headers: { authorization: `Bearer ${hs512}` } })).status).toBe(401)
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
    const none = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
    expect((await t.app.request('/v1/audit/verify', { headers: { authorization: `Bearer ${none}` } })).status).toBe(401)
  })

  it('names the first broken sequence number after a superuser tampers with a row', async () => {
    const [victim] = await db.sql`SELECT id, shard, seq FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND shard = 1 ORDER BY seq OFFSET 2 LIMIT 1`
    await asSuperuserBypassingTriggers(`UPDATE auth_logs SET outcome = 'success', event_type = 'login_success' WHERE id = '${victim!.id}'`)
    const result = await verifyTenantChain(db.sql, acme.tenant.id, nodeDigester)
    expect(result.ok).toBe(false)
    expect(result.first_break).toEqual({ shard: 1, seq: victim!.seq, eventId: victim!.id, reason: 'digest_mismatch' })
    const res = await (await t.app.request('/v1/audit/verify', { headers: { authorization: await bearerFor(t.tokens, acme, 'auditor@acme.test') } })).json()
    expect(res.first_break).toMatchObject({ shard: 1, seq: victim!.seq })
    // The other tenant is untouched.
    expect((await verifyTenantChain(db.sql, other.tenant.id, nodeDigester)).ok).toBe(true)
    await asSuperuserBypassingTriggers(`UPDATE auth_logs SET outcome = 'failure', event_type = 'login_failed' WHERE id = '${victim!.id}'`)
    expect((await verifyTenantChain(db.sql, acme.tenant.id, nodeDigester)).ok).toBe(true)
  })

  it('catches a deleted row as a gap and a deleted tail against the chain head', async () => {
    const shard1 = await db.sql`SELECT id, seq FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND shard = 1 ORDER BY seq`
    const last = shard1[shard1.length - 1]!
    await asSuperuserBypassingTriggers(`DELETE FROM auth_logs WHERE id = '${last.id}'`)
    expect((await verifyTenantChain(db.sql, acme.tenant.id, nodeDigester)).first_break).toMatchObject({ shard: 1, seq: last.seq, reason: 'head_mismatch' })
    const shard0 = await db.sql`SELECT id, seq FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND shard = 0 ORDER BY seq`
    expect(shard0.length).toBeGreaterThanOrEqual(3)
    await asSuperuserBypassingTriggers(`DELETE FROM auth_logs WHERE id = '${shard0[1]!.id}'`)
    expect((await verifyTenantChain(db.sql, acme.tenant.id, nodeDigester)).first_break).toMatchObject({ shard: 0, seq: shard0[1]!.seq, reason: 'sequence_gap' })
  })
})
