import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SYSTEM_ACTOR } from '../src/admin/admin-actor.ts'
import { purgeExpiredEvents } from '../src/admin/purge-expired-events.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { canonicalEventParts } from '../src/core/canonical-json.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { describeDatabaseRole } from '../src/db/database-role.ts'
import { DEFAULT_ROLE_NAMES, migrate } from '../src/db/migrate.ts'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'
import { TEST_CHECKPOINT_SIGNING_KEY } from './support/checkpoint-key.ts'
import { useTestDatabase } from './support/database.ts'
import { recordTestEvents } from './support/test-events.ts'
import { spawnService } from './support/spawn-service.ts'
import { bearerFor, createTestApp, postJson, postWith, seedTenant, type SeededTenant, TEST_JWT_SIGNING_KEY, type TestApp } from './support/test-app.ts'

const DAY = 86_400_000
const db = useTestDatabase('roles')

/** A client of the test database connected as `role`. */
function connectAs(role: string): Sql {
  const url = new URL(db.url)
  url.username = role
  return createSql(url.toString(), { max: 4 })
}

let runtime: Sql
let retention: Sql
let auditor: Sql
let app: TestApp
let acme: SeededTenant

beforeAll(async () => {
  runtime = connectAs(DEFAULT_ROLE_NAMES.runtime)
  retention = connectAs(DEFAULT_ROLE_NAMES.retention)
  auditor = connectAs(DEFAULT_ROLE_NAMES.auditor)
  // The tenant and its users are created as the service would create them: as the runtime role.
  acme = await seedTenant(runtime, {
    slug: 'acme',
    chainShards: 2,
    retentionDays: 30,
    registrationMode: 'open',
    users: [{ identifier: 'alice@acme.test' }, { identifier: 'admin@acme.test', role: 'admin' }],
  })
  app = await createTestApp(runtime)
  for (let i = 0; i < 6; i++) await postJson(app.app, '/v1/auth/login', { tenant: 'acme', identifier: 'alice@acme.test', password: 'wrong' })
  await postJson(app.app, '/v1/auth/login', { tenant: 'acme', identifier: 'bob@acme.test', password: 'wrong' })
})

afterAll(async () => {
  await Promise.all([runtime?.end(), retention?.end(), auditor?.end()])
})

/** What PostgreSQL answers a statement refused for lack of privilege. */
const REFUSED = { code: '42501' }

describe('the runtime role (the service, the relay, read-only commands)', () => {
  it('is neither a superuser nor the owner of the audit tables', async () => {
    expect(await describeDatabaseRole(runtime)).toMatchObject({ role: DEFAULT_ROLE_NAMES.runtime, superuser: false, ownsAuditTables: false })
    expect(await describeDatabaseRole(db.sql)).toMatchObject({ superuser: true })
  })

  it('runs the service: logins, lockout, registration, admin unlock, relay and compaction', async () => {
    const ok = await postJson(app.app, '/v1/auth/login', { tenant: 'acme', identifier: 'admin@acme.test', password: acme.users['admin@acme.test']!.password })
    expect(ok.status).toBe(200)
    const registered = await postJson(app.app, '/v1/auth/register', { tenant: 'acme', identifier: 'carol@acme.test', password: 'a-long-enough-password-42' })
    expect(registered.status).toBeLessThan(300)
    const admin = await bearerFor(app.tokens, acme, 'admin@acme.test')
    const unlocked = await postWith(app.app, `/v1/admin/lockouts/${encodeURIComponent('alice@acme.test')}/unlock`, admin)
    expect(unlocked.status).toBe(200)

    const store = createMemoryDocumentStore()
    const delivered = await createOutboxRelay({ sql: runtime, sinks: [createDocumentStoreSink(store)], listen: false }).drainOnce()
    const [events] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`
    expect(delivered).toBe(events!.n)
    // Verification and export tools run as the auditor role.
    expect(await verifyTenantChain(auditor, acme.tenant.id, nodeDigester)).toMatchObject({ ok: true, verified_events: events!.n })
  })

  it('decides again on a state written with microseconds (instants are compared to the millisecond)', async () => {
    await db.sql`
      UPDATE account_lockouts SET failed_login_attempts = 1, window_started_at = now() - interval '1.234567 seconds', last_failed_at = now()
      WHERE tenant_id = ${acme.tenant.id} AND identifier = 'bob@acme.test'`
    const res = await postJson(app.app, '/v1/auth/login', { tenant: 'acme', identifier: 'bob@acme.test', password: 'wrong' })
    expect(res.status).toBe(401)
    const [row] = await db.sql<{ failed_login_attempts: number }[]>`
      SELECT failed_login_attempts FROM account_lockouts WHERE tenant_id = ${acme.tenant.id} AND identifier = 'bob@acme.test'`
    expect(row!.failed_login_attempts).toBe(2)
  })

  it('cannot disable the append-only triggers or alter the table (issue 8, attack 1)', async () => {
    await expect(runtime`ALTER TABLE auth_logs DISABLE TRIGGER auth_logs_append_only`).rejects.toMatchObject(REFUSED)
    await expect(runtime`ALTER TABLE auth_logs DISABLE TRIGGER ALL`).rejects.toMatchObject(REFUSED)
    await expect(runtime`ALTER TABLE chain_heads OWNER TO ${runtime(DEFAULT_ROLE_NAMES.runtime)}`).rejects.toMatchObject(REFUSED)
    await expect(runtime`UPDATE auth_logs SET ip = '198.51.100.99' WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject(REFUSED)
  })

  it('cannot delete with the retention setting any session may set; the setting is no longer trusted (attack 2)', async () => {
    await expect(
      runtime.begin(async (tx) => {
        await tx`SET LOCAL authtrail.retention_purge = 'on'`
        await tx`DELETE FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`
      }),
    ).rejects.toMatchObject(REFUSED)
    await expect(runtime`TRUNCATE auth_logs CASCADE`).rejects.toMatchObject(REFUSED)
    // Even the superuser's session setting the marker does not pass the trigger: only the owner's purge does.
    await expect(
      db.sql.begin(async (tx) => {
        await tx`SET LOCAL authtrail.retention_purge = 'on'`
        await tx`DELETE FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`
      }),
    ).rejects.toMatchObject({ code: 'AT001' })
    await expect(runtime`SELECT * FROM purge_expired_auth_logs(${acme.tenant.id}, now())`).rejects.toMatchObject(REFUSED)
  })

  it('cannot move a chain head back, rewrite a row and its hashes, or write the trail directly (attack 3)', async () => {
    await expect(runtime`UPDATE chain_heads SET seq = seq - 1 WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject(REFUSED)
    await expect(runtime`DELETE FROM chain_heads WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject(REFUSED)
    await expect(
      runtime`UPDATE auth_logs SET ip = '198.51.100.200', digest_sha256 = digest_sha256, chain_hash = chain_hash WHERE tenant_id = ${acme.tenant.id} AND seq = 2`,
    ).rejects.toMatchObject(REFUSED)
    await expect(
      runtime`
        INSERT INTO auth_logs (id, tenant_id, shard, seq, event_type, channel, occurred_at, outcome, risk, metadata, expires_at,
                               digest_sha256, digest_sha512, digest_sha3_256, prev_hash, chain_hash)
        SELECT gen_random_uuid(), tenant_id, shard, seq + 1000, event_type, channel, occurred_at, outcome, risk, metadata, expires_at,
               digest_sha256, digest_sha512, digest_sha3_256, prev_hash, chain_hash
        FROM auth_logs WHERE tenant_id = ${acme.tenant.id} LIMIT 1`,
    ).rejects.toMatchObject(REFUSED)
    await expect(runtime`INSERT INTO outbox (event_id, tenant_id, shard, seq, payload) VALUES (gen_random_uuid(), ${acme.tenant.id}, 0, 999, '{}')`).rejects.toMatchObject(REFUSED)
    await expect(runtime`UPDATE chain_checkpoints SET seq = 1`).rejects.toMatchObject(REFUSED)
    await expect(runtime`DELETE FROM chain_checkpoints`).rejects.toMatchObject(REFUSED)
  })

  it("cannot change a user's role behind the trail's back (attack 4)", async () => {
    await expect(runtime`UPDATE users SET role = 'auditor' WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject(REFUSED)
  })

  it('cannot grant itself more, nor plant objects in the schema', async () => {
    const r = DEFAULT_ROLE_NAMES
    await expect(runtime`SELECT authtrail_apply_roles(${r.runtime}, ${r.owner}, ${r.retention}, ${r.auditor})`).rejects.toMatchObject(REFUSED)
    await expect(runtime`CREATE TABLE planted (x int)`).rejects.toMatchObject(REFUSED)
    await expect(runtime`CREATE FUNCTION sha256(bytea) RETURNS bytea LANGUAGE sql AS 'SELECT $1'`).rejects.toMatchObject(REFUSED)
  })

  it('appends through the function only at the head, with the sequence, digests and link the database computes', async () => {
    const [head] = await runtime<{ seq: number; head_hash: Uint8Array }[]>`SELECT seq, head_hash FROM chain_heads WHERE tenant_id = ${acme.tenant.id} AND shard = 0`
    const now = new Date()
    const event = {
      id: crypto.randomUUID(),
      tenant_id: acme.tenant.id,
      organisation_id: null,
      event_type: 'login_failed' as const,
      channel: 'web' as const,
      user_id: null,
      identifier: null,
      ip: '198.51.100.7',
      user_agent: null,
      device_id: null,
      occurred_at: now.toISOString(),
      outcome: 'failure' as const,
      reason: 'invalid_credentials',
      risk: { score: 0, signals: [] },
      metadata: { failed_attempts: 1, locked_until: null },
      token_jti: null,
      actor_id: null,
      expires_at: new Date(now.getTime() + 30 * DAY).toISOString(),
    }
    const { head: canonicalHead, tail } = canonicalEventParts({ ...event, shard: 0 })
    // A forged position and link in the request are ignored: the function computes its own.
    const attempt = { tenant_id: acme.tenant.id, shard: 0, now: now.toISOString(), events: [{ ...event, seq: 1, prev_hash: '00', chain_hash: '00', canonical_head: canonicalHead, canonical_tail: tail }] }
    const [row] = await runtime<{ answer: { status: string; events: { seq: number; prev_hash: string }[] } }[]>`SELECT append_auth_events(${runtime.json(attempt as never)}) AS answer`
    expect(row!.answer.status).toBe('appended')
    expect(row!.answer.events[0]).toMatchObject({ seq: head!.seq + 1, prev_hash: Buffer.from(head!.head_hash).toString('hex') })
    expect(await verifyTenantChain(auditor, acme.tenant.id, nodeDigester)).toMatchObject({ ok: true })
  })
})

describe('the retention and auditor roles', () => {
  it('the retention role alone purges expired prefixes, and cannot delete anything else', async () => {
    const old = await seedTenant(runtime, { slug: 'old', retentionDays: 1, chainShards: 1 })
    await recordTestEvents(runtime, old.tenant, Array.from({ length: 5 }, (_, i) => ({ at: new Date(Date.now() - 3 * DAY + i), identifier: `u${i}@old.test` })))
    await expect(retention`DELETE FROM auth_logs WHERE tenant_id = ${old.tenant.id}`).rejects.toMatchObject(REFUSED)
    await expect(retention`UPDATE auth_logs SET ip = NULL WHERE tenant_id = ${old.tenant.id}`).rejects.toMatchObject(REFUSED)
    const result = await purgeExpiredEvents({ sql: retention, clock: () => new Date(), signer: null }, { tenant: old.tenant, before: new Date(), actor: SYSTEM_ACTOR })
    expect(result.purged_events).toBe(5)
    expect(await verifyTenantChain(auditor, old.tenant.id, nodeDigester)).toMatchObject({ ok: true })
  })

  it('the auditor role reads and cannot append', async () => {
    await expect(auditor`SELECT append_auth_events('{}')`).rejects.toMatchObject(REFUSED)
    await expect(auditor`SELECT count(*) FROM users`).rejects.toMatchObject(REFUSED)
    await expect(auditor`SELECT count(*) FROM auth_logs`).resolves.toHaveLength(1)
  })
})

describe('start-up in production', () => {
  const production = (url: string) => ({
    AUTHTRAIL_ENV: 'production',
    DATABASE_URL: url,
    JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY,
    CHECKPOINT_SIGNING_KEY: TEST_CHECKPOINT_SIGNING_KEY,
    RELAY_ENABLED: 'false',
    HOST: '127.0.0.1',
    PORT: '0',
  })
  const as = (role: string) => Object.assign(new URL(db.url), { username: role }).toString()

  it('refuses a superuser and the owner of the audit tables with exit 78, naming the problem', { timeout: 120_000 }, async () => {
    const superuser = spawnService('node', production(db.url))
    expect(await superuser.exited).toBe(78)
    expect(superuser.stderr()).toMatch(/refusing to start in production:\n.*"postgres", a superuser/)
    const owner = spawnService('node', production(as(DEFAULT_ROLE_NAMES.owner)))
    expect(await owner.exited).toBe(78)
    expect(owner.stderr()).toMatch(/"authtrail_owner", which owns the audit tables/)
  })

  it('starts as the runtime role', { timeout: 120_000 }, async () => {
    const service = spawnService('node', production(as(DEFAULT_ROLE_NAMES.runtime)))
    await service.waitForOutput('authtrail listening on', 90_000)
    expect(await service.stop()).toBe(0)
  })
})

describe('role names', () => {
  it('are configurable: migrating with other names gives the objects to the new owner and grants the new roles', async () => {
    const names = { owner: 'authtrail_write_owner', runtime: 'authtrail_write_runtime', retention: 'authtrail_write_retention', auditor: 'authtrail_write_auditor' }
    try {
      await migrate(db.sql, { roles: names })
      const [owner] = await db.sql<{ owner: string }[]>`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'auth_logs'::regclass`
      expect(owner!.owner).toBe(names.owner)
      const other = connectAs(names.runtime)
      try {
        await expect(other`SELECT count(*) FROM auth_logs`).resolves.toHaveLength(1)
        await expect(other`UPDATE chain_heads SET seq = 0`).rejects.toMatchObject(REFUSED)
      } finally {
        await other.end()
      }
    } finally {
      await migrate(db.sql)
    }
  })
})
