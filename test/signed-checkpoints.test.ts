import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkpointChainHead, checkpointDueChains, type CheckpointDeps } from '../src/audit/checkpoint-chain-heads.ts'
import { generateEd25519Pem, loadCheckpointKeys, type CheckpointKeys } from '../src/audit/checkpoint-keys.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { readSignedCheckpoints, verifyTenantChain, type TenantVerification } from '../src/audit/verify-tenant-chain.ts'
import { runVerifyChain } from '../src/cli/verify-chain-command.ts'
import { checkpointSignatureProblem, checkpointsInCefLines } from '../src/core/checkpoint.ts'
import { createSql, type Sql } from '../src/db/client.ts'
import { DEFAULT_ROLE_NAMES } from '../src/db/migrate.ts'
import type { Tenant } from '../src/db/tenants.ts'
import { createOutboxRelay } from '../src/outbox/create-outbox-relay.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'
import { createSyslogSink } from '../src/sinks/syslog/index.ts'
import { useTestDatabase } from './support/database.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'
import { asSuperuser, rewriteEventAndRebuild, truncateChain } from './support/tamper.ts'
import { bearerFor, getWith, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('signed_checkpoints')
let keys: CheckpointKeys
let retired: CheckpointKeys
const store = createMemoryDocumentStore()
let dir: string
let siemFile: string

beforeAll(async () => {
  retired = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
  const retiredJwks = JSON.stringify({ keys: retired.published })
  keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: retiredJwks })
  dir = await mkdtemp(join(tmpdir(), 'authtrail-trust-'))
  siemFile = join(dir, 'received-cef.log')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const t = useTestApp(db, () => ({ get checkpointKeys() { return keys }, documentStore: store }))
const acme = useSeededTenant(db, { slug: 'acme', chainShards: 1, users: [{ identifier: 'auditor@acme.test', role: 'auditor' }] })

const deps = (overrides: Partial<CheckpointDeps> = {}): CheckpointDeps => ({
  sql: db.sql,
  signer: keys.signer!,
  clock: () => new Date(),
  policy: { intervalMs: 60_000, everyEvents: 5 },
  ...overrides,
})

/** Delivers everything in the outbox to the document store and to a SIEM that writes the CEF lines it receives to a file. */
async function relayToAnchors(): Promise<void> {
  const relay = createOutboxRelay({ sql: db.sql, sinks: [createDocumentStoreSink(store), createSyslogSink({ url: `file://${siemFile}` })], listen: false })
  while ((await relay.drainOnce()) > 0) {}
}

async function siemCheckpoints() {
  return checkpointsInCefLines((await readFile(siemFile, 'utf8')).split('\n'))
}

/** A one-chain tenant whose chain is: 10 events, checkpoint of seq 10 (event 11), 5 events, checkpoint of 16 (event 17), 3 events. */
async function checkpointedTenant(): Promise<Tenant> {
  const tenant = await createChainTenant(db.sql, 1)
  const signAll = deps({ policy: { intervalMs: 0, everyEvents: 1 } })
  await appendEvents(db.sql, tenant, 0, 10)
  expect(await checkpointChainHead(signAll, { tenantId: tenant.id, shard: 0 })).toMatchObject({ seq: 10 })
  await appendEvents(db.sql, tenant, 0, 5)
  expect(await checkpointChainHead(signAll, { tenantId: tenant.id, shard: 0 })).toMatchObject({ seq: 16 })
  await appendEvents(db.sql, tenant, 0, 3)
  await relayToAnchors()
  return tenant
}

async function verifyWith(tenant: Tenant, anchors: 'none' | 'docstore' | 'siem'): Promise<TenantVerification> {
  return verifyTenantChain(db.sql, tenant.id, nodeDigester, {
    verifier: keys.verifier,
    anchors: anchors === 'docstore' ? { docstore: await store.listChainCheckpoints(tenant.id) } : anchors === 'siem' ? { siem: await siemCheckpoints() } : {},
  })
}

describe('periodic signed checkpoints', () => {
  it('signs the head of a chain with news, records the checkpoint in the chain and in signed_checkpoints, and leaves quiet chains alone', async () => {
    const tenant = await createChainTenant(db.sql, 2)
    await appendEvents(db.sql, tenant, 0, 3)
    const made = (await checkpointDueChains(deps())).filter((cp) => cp.tenantId === tenant.id)
    expect(made).toEqual([expect.objectContaining({ shard: 0, seq: 3, keyId: keys.signer!.keyId })])
    expect(await checkpointSignatureProblem(keys.verifier, made[0]!)).toBeNull()
    expect(await readSignedCheckpoints(db.sql, tenant.id)).toEqual(made)
    const [event] = await db.sql<{ seq: number; event_type: string; channel: string; metadata: Record<string, unknown> }[]>`
      SELECT seq, event_type, channel, metadata FROM auth_logs WHERE tenant_id = ${tenant.id} AND shard = 0 AND seq = 4`
    expect(event).toEqual({
      seq: 4,
      event_type: 'chain_checkpoint',
      channel: 'system',
      metadata: { checkpoint_seq: 3, chain_hash: made[0]!.chainHash, signed_at: made[0]!.signedAt, key_id: made[0]!.keyId, signature: made[0]!.signature },
    })
    // Its own checkpoint event is no news: the chain is quiet until something else happens.
    expect((await checkpointDueChains(deps())).filter((cp) => cp.tenantId === tenant.id)).toEqual([])
    const verification = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier })
    expect(verification).toMatchObject({ ok: true, checkpoints: { signatures_checked: true, postgresql: 1, compared: 1 } })
    expect(verification.shards[0]!.anchored_seq).toBe(3)
  })

  it('checkpoints every M events, and N seconds after an event at the latest', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    const chain = { tenantId: tenant.id, shard: 0 }
    let now = new Date()
    const timed = deps({ clock: () => now })
    await appendEvents(db.sql, tenant, 0, 1)
    expect(await checkpointChainHead(timed, chain)).toMatchObject({ seq: 1 })
    await appendEvents(db.sql, tenant, 0, 4)
    expect(await checkpointChainHead(timed, chain)).toBeNull()
    await appendEvents(db.sql, tenant, 0, 1)
    expect(await checkpointChainHead(timed, chain)).toMatchObject({ seq: 7 })
    await appendEvents(db.sql, tenant, 0, 1)
    expect(await checkpointChainHead(timed, chain)).toBeNull()
    now = new Date(now.getTime() + 60_000)
    expect(await checkpointChainHead(timed, chain)).toMatchObject({ seq: 9 })
  })

  it('publishes the signing key and the retired one at GET /v1/audit/keys, to anyone', async () => {
    const res = await t.app.request('/v1/audit/keys')
    expect(res.status).toBe(200)
    const body = (await res.json()) as { keys: { kid: string; status: string; kty: string; crv: string; x: string }[] }
    expect(body.keys).toEqual([
      expect.objectContaining({ kid: keys.signer!.keyId, status: 'active', kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' }),
      expect.objectContaining({ kid: retired.signer!.keyId, status: 'retired' }),
    ])
    // What a rotated-out key signed still verifies; a key nobody published does not.
    const old = await checkpointChainHead(deps({ signer: retired.signer!, policy: { intervalMs: 0, everyEvents: 1 } }), await newChainWithEvents(2))
    expect(await checkpointSignatureProblem(keys.verifier, old!)).toBeNull()
    const stranger = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    expect(await checkpointSignatureProblem(stranger.verifier, old!)).toBe('unknown_key')
  })

  it('sends each checkpoint through the outbox to the document store and to the SIEM as CEF, where the copies verify', async () => {
    const tenant = await checkpointedTenant()
    const inPostgres = await readSignedCheckpoints(db.sql, tenant.id)
    expect(inPostgres.map((cp) => cp.seq)).toEqual([10, 16])
    expect(await store.listChainCheckpoints(tenant.id)).toEqual(inPostgres)
    expect((await siemCheckpoints()).filter((cp) => cp.tenantId === tenant.id)).toEqual(inPostgres)
    const line = (await readFile(siemFile, 'utf8')).split('\n').find((l) => l.includes('act=chain_checkpoint') && l.includes(tenant.id))!
    expect(line).toMatch(/\|chain_checkpoint\|Chain checkpoint signed\|1\|/)
    expect(line).toMatch(/flexNumber1Label=checkpointSeq flexNumber1=10 flexString1Label=checkpoint flexString1=atcp1\./)
    for (const anchors of ['none', 'docstore', 'siem'] as const) {
      expect(await verifyWith(tenant, anchors), anchors).toMatchObject({ ok: true, first_break: null })
    }
  })
})

async function newChainWithEvents(n: number) {
  const tenant = await createChainTenant(db.sql, 1)
  await appendEvents(db.sql, tenant, 0, n)
  return { tenantId: tenant.id, shard: 0 }
}

describe('attacks with the superuser, after anchored checkpoints', () => {
  it('a row rewritten in the middle and the chain rebuilt is caught at the first checkpoint past it', async () => {
    const tenant = await checkpointedTenant()
    await rewriteEventAndRebuild(db.sql, { tenantId: tenant.id, shard: 0, seq: 13 }, (e) => ({ ...e, ip: '203.0.113.66' }))
    // Every link and the head agree again (no digest or link mismatch): only a signed checkpoint can tell.
    for (const anchors of ['none', 'docstore', 'siem'] as const) {
      expect((await verifyWith(tenant, anchors)).first_break, anchors).toMatchObject({ shard: 0, seq: 16, reason: 'anchor_mismatch', anchor: 'postgresql', last_agreeing_seq: 10 })
    }
  })

  it('the checkpoint table rewritten too: PostgreSQL signatures fail; with them deleted, the document store and the SIEM name the seq', async () => {
    const tenant = await checkpointedTenant()
    await rewriteEventAndRebuild(db.sql, { tenantId: tenant.id, shard: 0, seq: 5 }, (e) => ({ ...e, ip: '203.0.113.66' }))
    const [rebuilt] = await db.sql<{ chain_hash: Uint8Array }[]>`SELECT chain_hash FROM auth_logs WHERE tenant_id = ${tenant.id} AND seq = 10`
    await asSuperuser(db.sql, (tx) => tx`UPDATE signed_checkpoints SET chain_hash = ${Buffer.from(rebuilt!.chain_hash)} WHERE tenant_id = ${tenant.id} AND seq = 10`)
    expect((await verifyWith(tenant, 'none')).first_break).toMatchObject({ seq: 10, reason: 'checkpoint_signature_invalid', anchor: 'postgresql' })

    await asSuperuser(db.sql, (tx) => tx`DELETE FROM signed_checkpoints WHERE tenant_id = ${tenant.id}`)
    // PostgreSQL alone now has nothing left to contradict the rebuilt chain...
    expect(await verifyWith(tenant, 'none')).toMatchObject({ ok: true, checkpoints: { postgresql: 0 } })
    // ...but the copies held outside it do, at the first checkpoint past the change.
    expect((await verifyWith(tenant, 'docstore')).first_break).toMatchObject({ shard: 0, seq: 10, reason: 'anchor_mismatch', anchor: 'docstore', last_agreeing_seq: 0 })
    expect((await verifyWith(tenant, 'siem')).first_break).toMatchObject({ shard: 0, seq: 10, reason: 'anchor_mismatch', anchor: 'siem', last_agreeing_seq: 0 })

    const lines: string[] = []
    const code = await runVerifyChain(
      db.sql,
      { tenants: [tenant.id], all: false, verifier: keys.verifier, documentStore: store, siemCheckpoints: await siemCheckpoints() },
      (l) => lines.push(l),
    )
    expect(code).toBe(1)
    expect(lines[0]).toMatch(/^BROKEN .*: first broken seq 10 in shard 0 \(anchor_mismatch, event [0-9a-f-]+, against the docstore checkpoint; last agreeing anchored seq 0\)/)
    expect(lines[0]).toMatch(/signed checkpoints: 0 in PostgreSQL, 2 in the document store, 2 in the SIEM file \(signatures checked\)/)
  })

  it('the end cut off past a checkpoint and the head moved back: the anchors name the first missing seq', async () => {
    const tenant = await checkpointedTenant()
    await truncateChain(db.sql, { tenantId: tenant.id, shard: 0, fromSeq: 14 })
    expect((await verifyWith(tenant, 'none')).ok).toBe(true)
    const cut = await verifyWith(tenant, 'docstore')
    expect(cut.first_break).toMatchObject({ seq: 14, reason: 'anchor_beyond_head', anchor: 'docstore', last_agreeing_seq: 10 })
    // Seq 16 lies beyond the head: nothing was compared with it.
    expect(cut.checkpoints.compared).toBe(1)
    expect((await verifyWith(tenant, 'siem')).first_break).toMatchObject({ seq: 14, reason: 'anchor_beyond_head', anchor: 'siem' })
  })

  it('a checkpoint deleted from PostgreSQL is named by the anchor that still holds it', async () => {
    const tenant = await checkpointedTenant()
    await asSuperuser(db.sql, (tx) => tx`DELETE FROM signed_checkpoints WHERE tenant_id = ${tenant.id} AND seq = 16`)
    expect((await verifyWith(tenant, 'none')).ok).toBe(true)
    expect((await verifyWith(tenant, 'docstore')).first_break).toMatchObject({ seq: 16, reason: 'checkpoint_missing', anchor: 'docstore' })
  })

  it('forged anchor copies prove nothing: refused for their signature, counted, and the chain still verifies', async () => {
    const tenant = await checkpointedTenant()
    const forged = (await store.listChainCheckpoints(tenant.id)).map((cp) => ({ ...cp, chainHash: '0'.repeat(64) }))
    const result = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier, anchors: { docstore: forged } })
    expect(result).toMatchObject({ ok: true, checkpoints: { docstore: 0, rejected: 2 } })
  })
})

describe("what the report says of the anchors", () => {
  it('a verifier holding no keys compares the checkpoints unchecked, and says so', async () => {
    const tenant = await checkpointedTenant()
    const keyless = await loadCheckpointKeys({ signingKeyPem: null, retiredKeysJwks: null })
    for (const verifier of [keyless.verifier, null]) {
      const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier })
      expect(v, verifier ? 'keyless' : 'none').toMatchObject({ ok: true, checkpoints: { signatures_checked: false, postgresql: 2, rejected: 0, compared: 2 } })
    }
    expect((await verifyWith(tenant, 'none')).checkpoints.signatures_checked).toBe(true)
    // Unchecked, the hashes are compared all the same: a chain rebuilt after a change breaks at the next one.
    await rewriteEventAndRebuild(db.sql, { tenantId: tenant.id, shard: 0, seq: 13 }, (e) => ({ ...e, ip: '203.0.113.66' }))
    const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keyless.verifier })
    expect(v.first_break).toMatchObject({ seq: 16, reason: 'anchor_mismatch', anchor: 'postgresql', last_agreeing_seq: 10 })
  })

  it('names the newest anchored position the chain agreed with, and counts each position compared once, whatever holds it', async () => {
    const tenant = await checkpointedTenant()
    const intact = await verifyWith(tenant, 'docstore')
    expect(intact.checkpoints).toMatchObject({ postgresql: 2, docstore: 2, compared: 2 })
    expect(intact.shards[0]!.anchored_seq).toBe(16)

    await rewriteEventAndRebuild(db.sql, { tenantId: tenant.id, shard: 0, seq: 13 }, (e) => ({ ...e, ip: '203.0.113.66' }))
    const broken = await verifyWith(tenant, 'docstore')
    expect(broken.first_break).toMatchObject({ seq: 16, reason: 'anchor_mismatch', last_agreeing_seq: 10 })
    expect(broken.shards[0]!.anchored_seq).toBe(10)
    expect(broken.checkpoints.compared).toBe(2)
    // The same with seq 16 the last event of a page (pages of eight): an anchor there is compared too.
    const paged = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier, pageSize: 8 })
    expect(paged.first_break).toMatchObject({ seq: 16, reason: 'anchor_mismatch', last_agreeing_seq: 10 })
  })

  it('a checkpoint row whose signature no longer verifies is a break by itself, the chain intact', async () => {
    const tenant = await checkpointedTenant()
    await asSuperuser(db.sql, (tx) => tx`UPDATE signed_checkpoints SET signed_at = signed_at + interval '1 second' WHERE tenant_id = ${tenant.id} AND seq = 16`)
    const v = await verifyWith(tenant, 'none')
    expect(v.first_break).toEqual({ shard: 0, seq: 16, eventId: null, reason: 'checkpoint_signature_invalid', anchor: 'postgresql', last_agreeing_seq: 10 })
    expect(v.shards[0]).toMatchObject({ ok: false, verified: 20 })
  })

  it('an anchored position at the very head agrees with it: nothing anchored lies beyond the head', async () => {
    const tenant = await checkpointedTenant()
    // The head moved back to the checkpointed seq 16 (its checkpoint event and the three after it gone).
    await truncateChain(db.sql, { tenantId: tenant.id, shard: 0, fromSeq: 17 })
    const v = await verifyWith(tenant, 'docstore')
    expect(v).toMatchObject({ ok: true, first_break: null, checkpoints: { compared: 2 } })
    expect(v.shards[0]).toMatchObject({ head_seq: 16, anchored_seq: 16 })
  })
})

describe('GET /v1/audit/verify with anchors', () => {
  it("compares the caller's tenant with the document store's checkpoints when asked", async () => {
    const auditor = await bearerFor(t.tokens, acme, 'auditor@acme.test')
    await appendEvents(db.sql, acme.tenant, 0, 4)
    await checkpointChainHead(deps({ policy: { intervalMs: 0, everyEvents: 1 } }), { tenantId: acme.tenant.id, shard: 0 })
    await relayToAnchors()
    const plain = await getWith(t.app, '/v1/audit/verify', auditor)
    expect(await plain.json()).toMatchObject({ ok: true, checkpoints: { postgresql: 1, docstore: null } })
    await rewriteEventAndRebuild(db.sql, { tenantId: acme.tenant.id, shard: 0, seq: 2 }, (e) => ({ ...e, ip: '192.0.2.99' }))
    await asSuperuser(db.sql, (tx) => tx`DELETE FROM signed_checkpoints WHERE tenant_id = ${acme.tenant.id}`)
    const res = await getWith(t.app, '/v1/audit/verify?anchors=docstore', auditor)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ ok: false, first_break: { shard: 0, seq: 4, reason: 'anchor_mismatch', anchor: 'docstore' }, checkpoints: { postgresql: 0, docstore: 1 } })
    const bad = await getWith(t.app, '/v1/audit/verify?anchors=elsewhere', auditor)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ code: 'validation_failed' })
  })
})

describe('as the least-privilege roles', () => {
  const connectAs = (role: string): Sql => {
    const url = new URL(db.url)
    url.username = role
    return createSql(url.toString(), { max: 2 })
  }

  it('the runtime role signs checkpoints and cannot change or remove one; the auditor verifies against them', async () => {
    const runtime = connectAs(DEFAULT_ROLE_NAMES.runtime)
    const auditor = connectAs(DEFAULT_ROLE_NAMES.auditor)
    try {
      const tenant = await createChainTenant(runtime, 1)
      await appendEvents(runtime, tenant, 0, 3)
      expect(await checkpointChainHead(deps({ sql: runtime, policy: { intervalMs: 0, everyEvents: 1 } }), { tenantId: tenant.id, shard: 0 })).toMatchObject({ seq: 3 })
      const refused = { code: '42501' }
      await expect(runtime`UPDATE signed_checkpoints SET seq = seq + 1 WHERE tenant_id = ${tenant.id}`).rejects.toMatchObject(refused)
      await expect(runtime`DELETE FROM signed_checkpoints WHERE tenant_id = ${tenant.id}`).rejects.toMatchObject(refused)
      await expect(runtime`TRUNCATE signed_checkpoints`).rejects.toMatchObject(refused)
      await expect(auditor`INSERT INTO signed_checkpoints SELECT * FROM signed_checkpoints LIMIT 0`).rejects.toMatchObject(refused)
      expect(await verifyTenantChain(auditor, tenant.id, nodeDigester, { verifier: keys.verifier })).toMatchObject({ ok: true, checkpoints: { postgresql: 1, compared: 1 } })
    } finally {
      await Promise.all([runtime.end(), auditor.end()])
    }
  })
})
