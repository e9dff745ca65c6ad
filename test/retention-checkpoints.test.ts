import { describe, expect, it } from 'vitest'
import { SYSTEM_ACTOR } from '../src/admin/admin-actor.ts'
import { purgeExpiredEvents } from '../src/admin/purge-expired-events.ts'
import { bytesToHex } from '@noble/hashes/utils.js'
import { checkpointChainHead } from '../src/audit/checkpoint-chain-heads.ts'
import { generateEd25519Pem, loadCheckpointKeys, type CheckpointKeys } from '../src/audit/checkpoint-keys.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { fromBase64Url, signCheckpoint } from '../src/core/checkpoint.ts'
import { shardFor } from '../src/core/identifier.ts'
import { useTestDatabase } from './support/database.ts'
import { seedTenant } from './support/test-app.ts'
import { asSuperuser, rebuildChain } from './support/tamper.ts'
import { recordTestEvents } from './support/test-events.ts'

// What a retention checkpoint must carry to be trusted: the purge event that lists it must attest its
// position and hash, and when the verifier holds keys, a valid signature. Each attack here keeps the chain's
// links intact, so only those checks can catch it.

const db = useTestDatabase('retention_checkpoints')
const DAY = 86_400_000
const daysAgo = (n: number) => new Date(Date.now() - n * DAY)
let tenantCounter = 0

/**
 * A two-chain tenant whose chain 1 had two expired events purged (checkpoint at seq 2, unsigned unless a
 * signer is given), followed by three recent events (seq 3–5).
 */
async function purgedTenant(signer: Awaited<ReturnType<typeof loadCheckpointKeys>>['signer'] = null) {
  const { tenant } = await seedTenant(db.sql, { slug: `checkpoints-${process.pid}-${++tenantCounter}`, retentionDays: 10, chainShards: 2 })
  // The identifier goes to the non-administrative shard, away from the purge event (shard 0).
  const id = Array.from({ length: 50 }, (_, i) => `c${i}@checkpoints.test`).find((x) => shardFor(x, 2) === 1)!
  await recordTestEvents(db.sql, tenant, [{ at: daysAgo(30), identifier: id }, { at: daysAgo(29), identifier: id }])
  const purge = await purgeExpiredEvents({ sql: db.sql, clock: () => new Date(), signer }, { tenant, before: new Date(), actor: SYSTEM_ACTOR })
  expect(purge.shards).toEqual([{ shard: 1, boundary_seq: 2, deleted: 2 }])
  await recordTestEvents(db.sql, tenant, Array.from({ length: 3 }, () => ({ at: daysAgo(1), identifier: id })))
  return tenant
}

/**
 * A one-chain tenant, signed and purged: an old event (seq 1), signed (its checkpoint event, seq 2, as old);
 * another old event (seq 3), signed (its event, seq 4, recent); the purge (its event at seq 5) removes 1–3
 * and leaves a signed retention checkpoint at seq 3; then three recent events (6–8). Signed checkpoints:
 * seq 1 (a purged position) and seq 3 (the retention checkpoint's own).
 */
async function anchoredPurgedTenant(keys: CheckpointKeys) {
  const { tenant } = await seedTenant(db.sql, { slug: `anchored-${process.pid}-${++tenantCounter}`, retentionDays: 10, chainShards: 1 })
  const chain = { tenantId: tenant.id, shard: 0 }
  const signAt = (at: Date) => checkpointChainHead({ sql: db.sql, signer: keys.signer!, clock: () => at, policy: { intervalMs: 0, everyEvents: 1 } }, chain)
  await recordTestEvents(db.sql, tenant, [{ at: daysAgo(31) }])
  expect(await signAt(daysAgo(30))).toMatchObject({ seq: 1 })
  await recordTestEvents(db.sql, tenant, [{ at: daysAgo(29) }])
  expect(await signAt(new Date())).toMatchObject({ seq: 3 })
  const purge = await purgeExpiredEvents({ sql: db.sql, clock: () => new Date(), signer: keys.signer }, { tenant, before: new Date(), actor: SYSTEM_ACTOR })
  expect(purge.shards).toEqual([{ shard: 0, boundary_seq: 3, deleted: 3 }])
  await recordTestEvents(db.sql, tenant, Array.from({ length: 3 }, () => ({ at: daysAgo(1) })))
  return { tenant, purgeEventId: purge.event_id! }
}

describe('retention checkpoints', () => {
  it('a checkpoint moved forward over deleted events, consistent with the chain, is caught: the purge event attests another position', async () => {
    const tenant = await purgedTenant()
    expect((await verifyTenantChain(db.sql, tenant.id, nodeDigester)).ok).toBe(true)
    await asSuperuser(db.sql, async (tx) => {
      const [third] = await tx<{ chain_hash: Uint8Array }[]>`SELECT chain_hash FROM auth_logs WHERE tenant_id = ${tenant.id} AND shard = 1 AND seq = 3`
      await tx`DELETE FROM auth_logs WHERE tenant_id = ${tenant.id} AND shard = 1 AND seq = 3`
      await tx`UPDATE chain_checkpoints SET seq = 3, chain_hash = ${Buffer.from(third!.chain_hash)} WHERE tenant_id = ${tenant.id} AND shard = 1`
    })
    const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester)
    expect(v.ok).toBe(false)
    expect(v.first_break).toMatchObject({ shard: 1, seq: 3, reason: 'checkpoint_mismatch' })
  })

  it('a checkpoint moved back with its hash kept is caught as a checkpoint mismatch', async () => {
    const tenant = await purgedTenant()
    await asSuperuser(db.sql, (tx) => tx`UPDATE chain_checkpoints SET seq = 1 WHERE tenant_id = ${tenant.id} AND shard = 1`)
    const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester)
    expect(v.first_break).toMatchObject({ shard: 1, seq: 1, reason: 'checkpoint_mismatch' })
  })

  it('a checkpoint naming an event that attests nothing is caught', async () => {
    const tenant = await purgedTenant()
    await asSuperuser(db.sql, async (tx) => {
      const [other] = await tx<{ id: string }[]>`SELECT id FROM auth_logs WHERE tenant_id = ${tenant.id} AND event_type = 'login_failed' ORDER BY seq LIMIT 1`
      await tx`UPDATE chain_checkpoints SET purge_event_id = ${other!.id} WHERE tenant_id = ${tenant.id} AND shard = 1`
    })
    const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester)
    expect(v.first_break).toMatchObject({ shard: 1, seq: 2, reason: 'checkpoint_mismatch' })
  })

  it('an unsigned checkpoint is refused by a verifier that holds keys, and trusted by one that holds none', async () => {
    const tenant = await purgedTenant()
    const keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    const keyless = await loadCheckpointKeys({ signingKeyPem: null, retiredKeysJwks: null })
    const withKeys = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier })
    expect(withKeys.first_break).toMatchObject({ shard: 1, seq: 2, reason: 'checkpoint_mismatch' })
    const withoutKeys = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keyless.verifier })
    expect(withoutKeys.ok).toBe(true)
    expect(withoutKeys.shards[1]!.checkpoint).toEqual({ seq: 2, signed: false })
  })

  it('is compared with the signed checkpoint of its own position; signed checkpoints of purged positions are not counted as compared', async () => {
    const keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    const { tenant } = await anchoredPurgedTenant(keys)
    const progress: { verified: number; total: number }[] = []
    const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier, onProgress: (p) => progress.push(p) })
    expect(v).toMatchObject({ ok: true, verified_events: 5, checkpoints: { signatures_checked: true, postgresql: 2, compared: 1 } })
    expect(v.shards[0]).toMatchObject({ checkpoint: { seq: 3, signed: true }, anchored_seq: 3, head_seq: 8 })
    // Progress counts the events after the checkpoint, not the purged ones.
    expect(progress.at(-1)).toMatchObject({ verified: 5, total: 5 })
  })

  it('a change after it, caught by a signed checkpoint later in the chain, lies after the retention checkpoint', async () => {
    const keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    const tenant = await purgedTenant(keys.signer)
    // Seq 5 of chain 1 signed after the purge (its checkpoint event is seq 6); no anchor at the checkpoint's seq 2.
    const signAll = { sql: db.sql, signer: keys.signer!, clock: () => new Date(), policy: { intervalMs: 0, everyEvents: 1 } }
    expect(await checkpointChainHead(signAll, { tenantId: tenant.id, shard: 1 })).toMatchObject({ seq: 5 })
    await rebuildChain(db.sql, { tenantId: tenant.id, shard: 1, fromSeq: 4 }, (event, seq) => (seq === 4 ? { ...event, ip: '203.0.113.66' } : event))
    const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier })
    expect(v.first_break).toMatchObject({ shard: 1, seq: 5, reason: 'anchor_mismatch', anchor: 'postgresql', last_agreeing_seq: 2 })
  })

  it('a checkpoint forged with the signing key, its purge event and its chain rebuilt to match, is caught by the signed checkpoint of its position', async () => {
    const keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    const { tenant, purgeEventId } = await anchoredPurgedTenant(keys)
    // The superuser holding the signing key makes the chain start from another hash: the checkpoint re-signed,
    // the purge event's attestation rewritten, every retained event relinked and the head moved to match.
    // Only the periodic checkpoint signed at seq 3 before the purge, left alone, still holds the real hash.
    const forged = crypto.getRandomValues(new Uint8Array(32))
    const statement = await signCheckpoint(keys.signer!, { tenantId: tenant.id, shard: 0, seq: 3, chainHash: bytesToHex(forged), signedAt: new Date().toISOString() })
    await asSuperuser(db.sql, (tx) => tx`
      UPDATE chain_checkpoints SET chain_hash = ${Buffer.from(forged)}, signature = ${Buffer.from(fromBase64Url(statement.signature)!)},
        key_id = ${statement.keyId}, signed_at = ${new Date(statement.signedAt)}
      WHERE tenant_id = ${tenant.id} AND shard = 0`)
    await rebuildChain(db.sql, { tenantId: tenant.id, shard: 0, fromSeq: 4, prevHash: forged }, (event) =>
      event.id === purgeEventId ? { ...event, metadata: { ...event.metadata, checkpoints: [{ shard: 0, seq: 3, chain_hash: bytesToHex(forged) }] } } : event,
    )
    const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier })
    // Nothing retained agreed with an anchor: what changed lies anywhere up to the checkpoint (last_agreeing_seq 0).
    expect(v.first_break).toEqual({ shard: 0, seq: 3, eventId: purgeEventId, reason: 'checkpoint_mismatch', anchor: 'postgresql', last_agreeing_seq: 0 })
    expect(v.shards[0]).toMatchObject({ ok: false, verified: 0, anchored_seq: null })
  })

  it('a signed checkpoint with its signature, key or signing time cleared is a mismatch, not an error', async () => {
    const keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    const tenant = await purgedTenant(keys.signer)
    expect((await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier })).shards[1]!.checkpoint).toEqual({ seq: 2, signed: true })
    const [saved] = await db.sql<{ signature: Uint8Array; key_id: string; signed_at: Date }[]>`
      SELECT signature, key_id, signed_at FROM chain_checkpoints WHERE tenant_id = ${tenant.id} AND shard = 1`
    for (const column of ['signature', 'key_id', 'signed_at']) {
      await asSuperuser(db.sql, (tx) => tx`UPDATE chain_checkpoints SET ${tx(column)} = NULL WHERE tenant_id = ${tenant.id} AND shard = 1`)
      const v = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier })
      expect(v.first_break, column).toMatchObject({ shard: 1, seq: 2, reason: 'checkpoint_mismatch' })
      await asSuperuser(db.sql, (tx) => tx`
        UPDATE chain_checkpoints SET signature = ${Buffer.from(saved!.signature)}, key_id = ${saved!.key_id}, signed_at = ${saved!.signed_at}
        WHERE tenant_id = ${tenant.id} AND shard = 1`)
    }
    expect((await verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier })).ok).toBe(true)
  })
})
