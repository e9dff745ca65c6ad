import { eventFromRow, type AuthLogRow } from '../../src/audit/stored-event.ts'
import type { AuthEvent } from '../../src/core/auth-event.ts'
import { canonicalEventBytes } from '../../src/core/canonical-json.ts'
import { linkHash } from '../../src/core/chain.ts'
import { nobleDigester } from '../../src/core/digests.ts'
import type { Sql, Tx } from '../../src/db/client.ts'

/**
 * What an attacker holding the superuser's credentials can do to the trail: everything inside one
 * transaction with triggers off (`session_replication_role = replica`), so no append-only guard applies.
 */
export async function asSuperuser<T>(sql: Sql, body: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`SET LOCAL session_replication_role = replica`
    return body(tx)
  }) as Promise<T>
}

/**
 * Rewrites one event of a chain and rebuilds the chain after it with the project's own functions
 * (digests, links, head), as issue 8's attacker did: the chain then verifies from PostgreSQL alone.
 */
export async function rewriteEventAndRebuild(sql: Sql, chain: { tenantId: string; shard: number; seq: number }, change: (event: AuthEvent) => AuthEvent): Promise<void> {
  await rebuildChain(sql, { tenantId: chain.tenantId, shard: chain.shard, fromSeq: chain.seq }, (event, seq) => (seq === chain.seq ? change(event) : event))
}

/**
 * Rebuilds a chain from `fromSeq` to its head with the project's own functions, each event passed through
 * `change` first (its address, user agent, identifier or metadata), linked from `prevHash` (by default the
 * link stored before `fromSeq`): what an attacker who also forged where the chain starts would do.
 */
export async function rebuildChain(
  sql: Sql,
  chain: { tenantId: string; shard: number; fromSeq: number; prevHash?: Uint8Array },
  change: (event: AuthEvent, seq: number) => AuthEvent = (event) => event,
): Promise<void> {
  await asSuperuser(sql, async (tx) => {
    const rows = await tx<AuthLogRow[]>`
      SELECT * FROM auth_logs WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard} AND seq >= ${chain.fromSeq} ORDER BY seq`
    let prev: Uint8Array = chain.prevHash ?? new Uint8Array(rows[0]!.prev_hash)
    for (const row of rows) {
      const event = change(eventFromRow(row), row.seq)
      const digests = nobleDigester.digestBytes(canonicalEventBytes(event))
      const link = linkHash(prev, digests.sha256)
      await tx`
        UPDATE auth_logs SET ip = ${event.ip}, user_agent = ${event.user_agent}, identifier = ${event.identifier}, metadata = ${tx.json(event.metadata as never)},
          digest_sha256 = ${Buffer.from(digests.sha256)}, digest_sha512 = ${Buffer.from(digests.sha512)},
          digest_sha3_256 = ${Buffer.from(digests.sha3_256)}, prev_hash = ${Buffer.from(prev)}, chain_hash = ${Buffer.from(link)}
        WHERE id = ${row.id}`
      prev = link
    }
    await tx`UPDATE chain_heads SET head_hash = ${Buffer.from(prev)} WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard}`
  })
}

/** Deletes the end of a chain from `fromSeq` on and moves the head back to the event before it. */
export async function truncateChain(sql: Sql, chain: { tenantId: string; shard: number; fromSeq: number }): Promise<void> {
  await asSuperuser(sql, async (tx) => {
    await tx`DELETE FROM outbox WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard} AND seq >= ${chain.fromSeq}`
    await tx`DELETE FROM signed_checkpoints WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard} AND seq >= ${chain.fromSeq}`
    await tx`DELETE FROM auth_logs WHERE tenant_id = ${chain.tenantId} AND shard = ${chain.shard} AND seq >= ${chain.fromSeq}`
    await tx`
      UPDATE chain_heads h SET seq = l.seq, head_hash = l.chain_hash
      FROM auth_logs l WHERE h.tenant_id = ${chain.tenantId} AND h.shard = ${chain.shard}
        AND l.tenant_id = h.tenant_id AND l.shard = h.shard AND l.seq = ${chain.fromSeq - 1}`
  })
}
