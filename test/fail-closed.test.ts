import { describe, expect, it } from 'vitest'
import { createSql } from '../src/db/client.ts'
import { useTestDatabase } from './support/database.ts'
import { createTestApp, postJson, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('fail_closed')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }] })

async function snapshot() {
  const [r] = await db.sql`
    SELECT (SELECT count(*)::int FROM auth_logs) AS logs, (SELECT count(*)::int FROM outbox) AS outbox,
           (SELECT coalesce(sum(seq), 0)::int FROM chain_heads) AS heads,
           (SELECT coalesce(sum(failed_login_attempts), 0)::int FROM account_lockouts) AS failures`
  return r
}

describe('fail closed', () => {
  it('when the outbox write fails, the login answers 503 and nothing of the attempt is written', async () => {
    // The last statement of the transaction fails: auth log, lockout and chain head must roll back with it.
    await db.sql.unsafe(`
      CREATE FUNCTION reject_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'outbox unavailable' USING ERRCODE = '53100'; END $$;
      CREATE TRIGGER reject_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION reject_outbox();`)
    const before = await snapshot()
    const alice = acme.users['alice@acme.test']!
    for (const password of [alice.password, 'wrong-password']) {
      const res = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password })
      expect(res.status).toBe(503)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      const body = await res.json()
      expect(body.code).toBe('service_unavailable')
      expect(JSON.stringify(body)).not.toMatch(/outbox unavailable|at .*\.ts/)
      expect(res.headers.get('set-cookie')).toBeNull()
    }
    expect(await snapshot()).toEqual(before)
    await db.sql.unsafe('DROP TRIGGER reject_outbox ON outbox')
    const ok = await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: alice.identifier, password: alice.password })
    expect(ok.status).toBe(200)
  })

  it('when the database is unreachable, the login answers 503 problem+json', async () => {
    const dead = createSql('postgres://postgres@127.0.0.1:1/none', { max: 1 })
    const broken = await createTestApp(dead)
    const res = await postJson(broken.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: 'x' })
    expect(res.status).toBe(503)
    expect((await res.json()).code).toBe('service_unavailable')
    await dead.end()
  })
})
