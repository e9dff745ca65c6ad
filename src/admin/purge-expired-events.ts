import { bytesToHex } from '@noble/hashes/utils.js'
import type { CheckpointAttestation } from '../audit/chain-checkpoints.ts'
import { recordEvents } from '../audit/record-events.ts'
import { fromBase64Url, signCheckpoint, type CheckpointSigner } from '../core/checkpoint.ts'
import { uuidv7 } from '../core/ids.ts'
import { LOCKOUT_ESCALATION_MEMORY_SECONDS } from '../core/lockout-policy.ts'
import type { Sql } from '../db/client.ts'
import type { Tenant } from '../db/tenants.ts'
import type { AdminActor } from './admin-actor.ts'

export interface PurgeDeps {
  sql: Sql
  clock: () => Date
  /** Signs the checkpoints (Ed25519, like the periodic ones); null stores them unsigned (still attested by the purge event). */
  signer: CheckpointSigner | null
}

export interface PurgeRequest {
  tenant: Tenant
  /** Events that expired before this instant go; the database never lets it be later than its now(). */
  before: Date
  actor: AdminActor
}

export interface PurgedShard {
  shard: number
  /** The last purged event, where verification of this chain now starts. */
  boundary_seq: number
  deleted: number
}

export interface PurgeResult {
  purged_events: number
  /** Lockout rows removed as idle (not locked, failure window closed, escalation forgotten). */
  removed_lockouts: number
  before: string
  shards: PurgedShard[]
  /** The retention_purged event; null when nothing had expired (and nothing was written). */
  event_id: string | null
}

interface PurgedRow {
  shard: number
  boundary_seq: number
  boundary_hash: Uint8Array
  deleted: number
}

/**
 * Retention for one tenant, in one transaction: purge_expired_auth_logs() deletes each chain's expired
 * prefix and returns its boundary; the boundary becomes the chain's checkpoint (signed when a key is
 * configured); and a `retention_purged` event, listing every checkpoint of the tenant, is appended with
 * its outbox row. The tenant's chains then verify from their checkpoints (verifyTenantChain). Purges of
 * one tenant serialise on an advisory lock; logins are not blocked (they only append after the prefix).
 * The tenant's idle lockout rows go too, whether or not events expired: a row whose account is not locked,
 * whose failure window has closed and whose escalation is forgotten decides nothing an absent row does not.
 *
 * @example
 * await purgeExpiredEvents({ sql, clock, signer }, { tenant, before: new Date(), actor: SYSTEM_ACTOR })
 */
export async function purgeExpiredEvents(deps: PurgeDeps, request: PurgeRequest): Promise<PurgeResult> {
  const { tenant, actor } = request
  return deps.sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`authtrail.retention/${tenant.id}`}, 0))`
    const [idle] = await tx<{ removed: number }[]>`
      SELECT delete_idle_account_lockouts(${tenant.id}, ${LOCKOUT_ESCALATION_MEMORY_SECONDS})::int AS removed`
    const removed = idle!.removed
    const purged = await tx<PurgedRow[]>`
      SELECT shard, boundary_seq, boundary_hash, deleted::int AS deleted
      FROM purge_expired_auth_logs(${tenant.id}, ${request.before})`
    const shards = purged.map((p) => ({ shard: p.shard, boundary_seq: p.boundary_seq, deleted: p.deleted }))
    const total = purged.reduce((n, p) => n + p.deleted, 0)
    if (purged.length === 0) return { purged_events: 0, removed_lockouts: removed, before: request.before.toISOString(), shards, event_id: null }

    const now = deps.clock()
    const eventId = uuidv7(now.getTime())
    const checkpointRows = await Promise.all(
      purged.map(async (p) => {
        const statement = { tenantId: tenant.id, shard: p.shard, seq: p.boundary_seq, chainHash: bytesToHex(new Uint8Array(p.boundary_hash)), signedAt: now.toISOString() }
        const signed = deps.signer ? await signCheckpoint(deps.signer, statement) : null
        return {
          tenant_id: tenant.id,
          shard: p.shard,
          seq: p.boundary_seq,
          chain_hash: Buffer.from(p.boundary_hash),
          purged_before: request.before,
          purge_event_id: eventId,
          signature: signed ? Buffer.from(fromBase64Url(signed.signature)!) : null,
          key_id: signed?.keyId ?? null,
          signed_at: signed ? now : null,
          updated_at: now,
        }
      }),
    )
    await tx`
      INSERT INTO chain_checkpoints ${tx(checkpointRows)}
      ON CONFLICT ON CONSTRAINT chain_checkpoints_pkey DO UPDATE SET
        seq = EXCLUDED.seq, chain_hash = EXCLUDED.chain_hash, purged_before = EXCLUDED.purged_before,
        purge_event_id = EXCLUDED.purge_event_id, signature = EXCLUDED.signature, key_id = EXCLUDED.key_id,
        signed_at = EXCLUDED.signed_at, updated_at = EXCLUDED.updated_at`
    // Every checkpoint of the tenant is attested by this, the newest, purge event: older purge events
    // may themselves be purged later, the newest never is (it sits after every boundary).
    const all = await tx<{ shard: number; seq: number; chain_hash: Uint8Array }[]>`
      UPDATE chain_checkpoints SET purge_event_id = ${eventId}
      WHERE tenant_id = ${tenant.id}
      RETURNING shard, seq, chain_hash`
    const checkpoints: CheckpointAttestation[] = all
      .map((c) => ({ shard: c.shard, seq: c.seq, chain_hash: bytesToHex(new Uint8Array(c.chain_hash)) }))
      .sort((a, b) => a.shard - b.shard)

    const metadata = {
      purged_before: request.before.toISOString(),
      purged_events: total,
      shards: shards.map((s) => ({ ...s })),
      checkpoints,
      checkpoints_signed: deps.signer !== null,
    }
    // Tenant-wide, like the chains it cuts: no organisation, so every organisation of the tenant sees it.
    const draft = { id: eventId, eventType: 'retention_purged', outcome: 'success', reason: 'retention_expired', origin: actor.origin, actorId: actor.userId, metadata } as const
    await recordEvents(tx, tenant, [draft], { now })
    return { purged_events: total, removed_lockouts: removed, before: request.before.toISOString(), shards, event_id: eventId }
  })
}
