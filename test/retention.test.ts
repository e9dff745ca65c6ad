import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { SYSTEM_ACTOR } from '../src/admin/admin-actor.ts'
import { purgeExpiredEvents } from '../src/admin/purge-expired-events.ts'
import { generateEd25519Pem, loadCheckpointKeys } from '../src/audit/checkpoint-keys.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain, type TenantVerification } from '../src/audit/verify-tenant-chain.ts'
import { runPurgeRetention } from '../src/cli/purge-retention-command.ts'
import { runVerifyChain } from '../src/cli/verify-chain-command.ts'
import { shardFor } from '../src/core/identifier.ts'
import { useTestDatabase } from './support/database.ts'
import { recordTestEvents } from './support/test-events.ts'
import { bearerFor, getWith, postWith, seedTenant, useSeededTenant, useTestApp } from './support/test-app.ts'

const DAY = 86_400_000
const run = promisify(execFile)

const db = useTestDatabase('retention')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', retentionDays: 30, chainShards: 4, users: [{ identifier: 'admin@acme.test', role: 'admin' }] })
let admin: string
const daysAgo = (n: number, ms = 0) => new Date(Date.now() - n * DAY + ms)

beforeAll(async () => {
  admin = await bearerFor(t.tokens, acme, 'admin@acme.test')
  // 40 events written 60 days ago (expired 30 days ago), then 20 recent ones, then one more old one:
  // it has expired too, but sits behind unexpired events in its chain, so it must stay.
  await recordTestEvents(db.sql, acme.tenant, Array.from({ length: 40 }, (_, i) => ({ at: daysAgo(60, i * 1000), identifier: `u${i % 8}@acme.test`, ip: '198.51.100.1' })))
  await recordTestEvents(db.sql, acme.tenant, Array.from({ length: 20 }, (_, i) => ({ at: daysAgo(1, i * 1000), identifier: `u${i % 8}@acme.test`, ip: '198.51.100.2' })))
  await recordTestEvents(db.sql, acme.tenant, [{ at: daysAgo(60), identifier: 'u0@acme.test', ip: '198.51.100.3' }])
})

async function verify(auth = admin): Promise<TenantVerification> {
  const res = await getWith(t.app, '/v1/audit/verify', auth)
  expect(res.status).toBe(200)
  return (await res.json()) as TenantVerification
}

describe('retention purge', () => {
  it("deletes each chain's expired prefix, checkpoints it, audits it, and the chains still verify", async () => {
    const res = await postWith(t.app, '/v1/admin/retention/purge', admin)
    expect(res.status).toBe(200)
    const result = (await res.json()) as { purged_events: number; shards: { shard: number; boundary_seq: number; deleted: number }[]; event_id: string }
    expect(result.purged_events).toBe(40)
    expect(result.shards.reduce((n, s) => n + s.deleted, 0)).toBe(40)

    const left = await db.sql<{ ip: string }[]>`SELECT ip FROM auth_logs WHERE tenant_id = ${acme.tenant.id} AND event_type = 'login_failed'`
    expect(left.filter((r) => r.ip === '198.51.100.1')).toHaveLength(0)
    expect(left.filter((r) => r.ip === '198.51.100.3')).toHaveLength(1)

    const v = await verify()
    expect(v.ok).toBe(true)
    expect(v.verified_events).toBe(20 + 1 + 1)
    expect(v.shards.filter((s) => s.checkpoint).map((s) => s.shard)).toEqual(result.shards.map((s) => s.shard))
    for (const s of result.shards) expect(v.shards[s.shard]!.checkpoint).toEqual({ seq: s.boundary_seq, signed: false })

    const [event] = await db.sql<{ event_type: string; actor_id: string; channel: string; organisation_id: string | null; metadata: { purged_events: number; checkpoints: unknown[] } }[]>`
      SELECT event_type, actor_id, channel, organisation_id, metadata FROM auth_logs WHERE id = ${result.event_id}`
    expect(event).toMatchObject({ event_type: 'retention_purged', actor_id: acme.users['admin@acme.test']!.id, channel: 'admin', organisation_id: null })
    expect(event!.metadata.purged_events).toBe(40)
    expect(event!.metadata.checkpoints).toHaveLength(result.shards.length)
  })

  it('writes nothing when nothing has expired, and the database never deletes an unexpired event', async () => {
    const count = async () => (await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`)[0]!.n
    const before = await count()
    const res = await postWith(t.app, '/v1/admin/retention/purge', admin)
    expect(await res.json()).toMatchObject({ purged_events: 0, event_id: null })
    const farFuture = await db.sql`SELECT * FROM purge_expired_auth_logs(${acme.tenant.id}, now() + interval '100 years')`
    expect(farFuture).toHaveLength(0)
    expect(await count()).toBe(before)
  })

  it('keeps auth_logs append-only and checkpoints forward-only outside the purge', async () => {
    await expect(db.sql`DELETE FROM auth_logs WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject({ code: 'AT001' })
    await expect(db.sql`DELETE FROM chain_checkpoints WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject({ code: 'AT003' })
    await expect(db.sql`UPDATE chain_checkpoints SET seq = seq - 1 WHERE tenant_id = ${acme.tenant.id}`).rejects.toMatchObject({ code: 'AT003' })
  })

  it('detects a forged checkpoint', async () => {
    const [cp] = await db.sql<{ shard: number; seq: number; chain_hash: Uint8Array }[]>`
      SELECT shard, seq, chain_hash FROM chain_checkpoints WHERE tenant_id = ${acme.tenant.id} ORDER BY shard LIMIT 1`
    await db.sql`UPDATE chain_checkpoints SET chain_hash = ${Buffer.alloc(32, 7)} WHERE tenant_id = ${acme.tenant.id} AND shard = ${cp!.shard}`
    try {
      const v = await verify()
      expect(v.ok).toBe(false)
      expect(v.first_break).toMatchObject({ shard: cp!.shard, seq: cp!.seq, reason: 'checkpoint_mismatch' })
    } finally {
      await db.sql`UPDATE chain_checkpoints SET chain_hash = ${Buffer.from(cp!.chain_hash)} WHERE tenant_id = ${acme.tenant.id} AND shard = ${cp!.shard}`
    }
    expect((await verify()).ok).toBe(true)
  })

  it('signs checkpoints with the Ed25519 signing key; verification with other keys rejects them', async () => {
    const signed = await seedTenant(db.sql, { slug: 'signed', retentionDays: 10, chainShards: 2 })
    const keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    const otherKeys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    // The identifiers go to the non-administrative shard, so the second purge can move its checkpoint.
    const id = Array.from({ length: 50 }, (_, i) => `s${i}@signed.test`).find((x) => shardFor(x, 2) === 1)!
    await recordTestEvents(db.sql, signed.tenant, [{ at: daysAgo(30), identifier: id }, { at: daysAgo(29), identifier: id }])
    const first = await purgeExpiredEvents({ sql: db.sql, clock: () => new Date(), signer: keys.signer }, { tenant: signed.tenant, before: new Date(), actor: SYSTEM_ACTOR })
    expect(first.shards).toEqual([{ shard: 1, boundary_seq: 2, deleted: 2 }])
    await recordTestEvents(db.sql, signed.tenant, [{ at: daysAgo(20), identifier: id }])
    const second = await purgeExpiredEvents({ sql: db.sql, clock: () => new Date(), signer: keys.signer }, { tenant: signed.tenant, before: new Date(), actor: SYSTEM_ACTOR })
    expect(second.shards).toEqual([{ shard: 1, boundary_seq: 3, deleted: 1 }])

    const withKey = await verifyTenantChain(db.sql, signed.tenant.id, nodeDigester, { verifier: keys.verifier })
    expect(withKey.ok).toBe(true)
    expect(withKey.shards[1]!.checkpoint).toEqual({ seq: 3, signed: true })
    expect((await verifyTenantChain(db.sql, signed.tenant.id, nodeDigester)).ok).toBe(true)
    const wrong = await verifyTenantChain(db.sql, signed.tenant.id, nodeDigester, { verifier: otherKeys.verifier })
    expect(wrong.first_break).toMatchObject({ shard: 1, seq: 3, reason: 'checkpoint_mismatch' })
    // The newest purge event attests every checkpoint of the tenant (here, shard 1's alone).
    const [purge] = await db.sql<{ metadata: { checkpoints: { shard: number; seq: number }[]; checkpoints_signed: boolean } }[]>`
      SELECT metadata FROM auth_logs WHERE id = ${second.event_id}`
    expect(purge!.metadata).toMatchObject({ checkpoints: [{ shard: 1, seq: 3 }], checkpoints_signed: true })
  })
})

describe('CLI', () => {
  it('purge-retention purges every tenant as the system', async () => {
    const lines: string[] = []
    const system = await seedTenant(db.sql, { slug: 'cli', retentionDays: 5, chainShards: 1 })
    await recordTestEvents(db.sql, system.tenant, [{ at: daysAgo(9), identifier: 'x@cli.test' }])
    expect(await runPurgeRetention(db.sql, { tenants: [], all: true, before: new Date(), signer: null }, (l) => lines.push(l))).toBe(0)
    expect(lines.find((l) => l.includes(' cli '))).toMatch(/^purged cli .*: 1 events/)
    const [event] = await db.sql`SELECT channel, actor_id FROM auth_logs WHERE tenant_id = ${system.tenant.id} AND event_type = 'retention_purged'`
    expect(event).toEqual({ channel: 'system', actor_id: null })
    expect(await runPurgeRetention(db.sql, { tenants: ['nope'], all: false, before: new Date(), signer: null }, (l) => lines.push(l))).toBe(2)
  })

  it('verify-chain names the first broken seq and exits non-zero; the real command does the same', async () => {
    const victim = await seedTenant(db.sql, { slug: 'tampered', chainShards: 1 })
    await recordTestEvents(db.sql, victim.tenant, Array.from({ length: 5 }, (_, i) => ({ at: daysAgo(0, -i * 1000), identifier: `v${i}@t.test` })))
    const lines: string[] = []
    expect(await runVerifyChain(db.sql, { tenants: ['tampered', 'acme'], all: false, verifier: null }, (l) => lines.push(l))).toBe(0)
    expect(lines[0]).toMatch(/^ok tampered .*: 5 events in 1 chains/)
    expect(lines[1]).toMatch(/^ok acme .*from retention checkpoints/)

    // Tamper as a superuser could: switch the append-only trigger off and rewrite one event.
    await db.sql.begin(async (tx) => {
      await tx`ALTER TABLE auth_logs DISABLE TRIGGER auth_logs_append_only`
      await tx`UPDATE auth_logs SET ip = '6.6.6.6' WHERE tenant_id = ${victim.tenant.id} AND seq = 3`
      await tx`ALTER TABLE auth_logs ENABLE TRIGGER auth_logs_append_only`
    })
    lines.length = 0
    expect(await runVerifyChain(db.sql, { tenants: [], all: true, verifier: null }, (l) => lines.push(l))).toBe(1)
    expect(lines.find((l) => l.startsWith('BROKEN'))).toMatch(/^BROKEN tampered .*: first broken seq 3 in shard 0 \(digest_mismatch, event /)
    expect(lines.filter((l) => l.startsWith('ok ')).length).toBeGreaterThan(2)

    const command = run(process.execPath, ['bin/authtrail.js', 'verify', '--tenant', 'tampered'], { env: { ...process.env, DATABASE_URL: db.url, AUTHTRAIL_ENV: 'development' } })
    const failure = await command.then(() => null, (error: { code: number; stdout: string }) => error)
    expect(failure?.code).toBe(1)
    expect(failure?.stdout).toContain('first broken seq 3')
    const usage = await run(process.execPath, ['bin/authtrail.js', 'verify'], { env: { ...process.env, DATABASE_URL: db.url } }).then(() => null, (e: { code: number }) => e)
    expect(usage?.code).toBe(2)
  })
})
