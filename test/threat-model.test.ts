import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkpointChainHead, type CheckpointDeps } from '../src/audit/checkpoint-chain-heads.ts'
import { generateEd25519Pem, loadCheckpointKeys, type CheckpointKeys } from '../src/audit/checkpoint-keys.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain, type TenantVerification } from '../src/audit/verify-tenant-chain.ts'
import { checkpointsInCefLines, fromBase64Url, signCheckpoint } from '../src/core/checkpoint.ts'
import type { Tenant } from '../src/db/tenants.ts'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'
import { createSyslogSink } from '../src/sinks/syslog/index.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'
import { asSuperuser, rewriteEventAndRebuild, truncateChain } from './support/tamper.ts'
import { seedTenant } from './support/test-app.ts'

// The README's threat model rows that no other test shows: what a superuser (or the owner) can still do
// and what is then detected, by what, and what is not. The runtime role's refusals are in
// database-roles.test.ts, the anchored rewrites in signed-checkpoints.test.ts.

const db = useTestDatabase('threat_model')
let keys: CheckpointKeys
const store = createMemoryDocumentStore()
let dir: string
let siemFile: string

beforeAll(async () => {
  keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
  dir = await mkdtemp(join(tmpdir(), 'authtrail-threat-'))
  siemFile = join(dir, 'received-cef.log')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const signEveryHead = (): CheckpointDeps => ({ sql: db.sql, signer: keys.signer!, clock: () => new Date(), policy: { intervalMs: 0, everyEvents: 1 } })

async function relayToAnchors(): Promise<void> {
  const relay = createOutboxRelay({ sql: db.sql, sinks: [createDocumentStoreSink(store), createSyslogSink({ url: `file://${siemFile}` })], listen: false })
  while ((await relay.drainOnce()) > 0) {}
}

/** 10 events, the checkpoint of seq 10 (event 11), 5 events, the checkpoint of 16 (event 17), all relayed; then 3 events not yet relayed (18-20). */
async function checkpointedTenant(): Promise<Tenant> {
  const tenant = await createChainTenant(db.sql, 1)
  await appendEvents(db.sql, tenant, 0, 10)
  expect(await checkpointChainHead(signEveryHead(), { tenantId: tenant.id, shard: 0 })).toMatchObject({ seq: 10 })
  await appendEvents(db.sql, tenant, 0, 5)
  expect(await checkpointChainHead(signEveryHead(), { tenantId: tenant.id, shard: 0 })).toMatchObject({ seq: 16 })
  await relayToAnchors()
  await appendEvents(db.sql, tenant, 0, 3)
  return tenant
}

async function verifyWith(tenant: Tenant, anchors: 'none' | 'docstore' | 'siem'): Promise<TenantVerification> {
  const siem = async () => checkpointsInCefLines((await readFile(siemFile, 'utf8')).split('\n'))
  return verifyTenantChain(db.sql, tenant.id, nodeDigester, {
    verifier: keys.verifier,
    anchors: anchors === 'docstore' ? { docstore: await store.listChainCheckpoints(tenant.id) } : anchors === 'siem' ? { siem: await siem() } : {},
  })
}

describe('the superuser or the owner, who can switch the guards off', () => {
  it('attack 1 as written: ALTER TABLE … DISABLE TRIGGER, then UPDATE; the verifier names the altered seq from PostgreSQL alone', async () => {
    const tenant = await checkpointedTenant()
    await db.sql.begin(async (tx) => {
      await tx`ALTER TABLE auth_logs DISABLE TRIGGER ALL`
      await tx`UPDATE auth_logs SET ip = '203.0.113.66' WHERE tenant_id = ${tenant.id} AND shard = 0 AND seq = 13`
      await tx`ALTER TABLE auth_logs ENABLE TRIGGER ALL`
    })
    expect((await verifyWith(tenant, 'none')).first_break).toMatchObject({ shard: 0, seq: 13, reason: 'digest_mismatch' })
  })

  it('with the checkpoint signing key stolen too: checkpoints re-signed in PostgreSQL pass there; the document store and the SIEM still name the seq', async () => {
    const tenant = await checkpointedTenant()
    await rewriteEventAndRebuild(db.sql, { tenantId: tenant.id, shard: 0, seq: 5 }, (e) => ({ ...e, ip: '203.0.113.66' }))
    await asSuperuser(db.sql, async (tx) => {
      // The rebuilt chain's hashes at the checkpointed positions, signed again at the original times.
      const rows = await tx<{ seq: number; chain_hash: Uint8Array; signed_at: Date }[]>`
        SELECT l.seq, l.chain_hash, s.signed_at FROM auth_logs l JOIN signed_checkpoints s USING (tenant_id, shard, seq)
        WHERE l.tenant_id = ${tenant.id} AND l.shard = 0 ORDER BY l.seq`
      expect(rows.map((r) => r.seq)).toEqual([10, 16])
      for (const row of rows) {
        const forged = await signCheckpoint(keys.signer!, { tenantId: tenant.id, shard: 0, seq: row.seq, chainHash: bytesToHex(new Uint8Array(row.chain_hash)), signedAt: row.signed_at.toISOString() })
        await tx`
          UPDATE signed_checkpoints SET chain_hash = ${Buffer.from(row.chain_hash)}, signature = ${Buffer.from(fromBase64Url(forged.signature)!)}
          WHERE tenant_id = ${tenant.id} AND shard = 0 AND seq = ${row.seq}`
      }
    })
    expect(await verifyWith(tenant, 'none')).toMatchObject({ ok: true, checkpoints: { postgresql: 2 } })
    // The copies outside hold checkpoints of seq 10 and 16 with the original hashes, which PostgreSQL no longer has.
    expect((await verifyWith(tenant, 'docstore')).first_break).toMatchObject({ shard: 0, seq: 10, reason: 'checkpoint_missing', anchor: 'docstore' })
    expect((await verifyWith(tenant, 'siem')).first_break).toMatchObject({ shard: 0, seq: 10, reason: 'checkpoint_missing', anchor: 'siem' })
  })

  it('the window: events after the last anchored checkpoint cut off, head moved back, are not detected', async () => {
    const tenant = await checkpointedTenant()
    // Events 18-20 came after the checkpoint of 16 (event 17 records it), and no checkpoint covers them yet.
    await truncateChain(db.sql, { tenantId: tenant.id, shard: 0, fromSeq: 18 })
    for (const anchors of ['none', 'docstore', 'siem'] as const) {
      expect(await verifyWith(tenant, anchors), anchors).toMatchObject({ ok: true })
    }
    // One event further back, and the anchors see it: the checkpoint of 16 is beyond the head.
    await truncateChain(db.sql, { tenantId: tenant.id, shard: 0, fromSeq: 16 })
    expect((await verifyWith(tenant, 'docstore')).first_break).toMatchObject({ seq: 16, reason: 'anchor_beyond_head', anchor: 'docstore' })
  })

  it('attack 4 as the superuser: UPDATE users SET role leaves no event and nothing to verify (users are not chained)', async () => {
    const seeded = await seedTenant(db.sql, { slug: 'threat-roles', chainShards: 1, users: [{ identifier: 'mallory@threat.test' }] })
    const user = seeded.users['mallory@threat.test']!
    const before = await db.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM auth_logs WHERE tenant_id = ${seeded.tenant.id}`
    await db.sql`UPDATE users SET role = 'admin' WHERE id = ${user.id}`
    const after = await db.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM auth_logs WHERE tenant_id = ${seeded.tenant.id}`
    expect(after[0]!.count).toBe(before[0]!.count)
    expect(await verifyTenantChain(db.sql, seeded.tenant.id, nodeDigester, { verifier: keys.verifier })).toMatchObject({ ok: true })
  })
})
