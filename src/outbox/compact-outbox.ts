import type { Sql } from '../db/client.ts'

/**
 * Deletes outbox rows that every sink has passed: per chain, rows at or below the lowest cursor. "Every
 * sink" is `sinks` (this relay's) together with every sink that has a cursor anywhere, so a relay never
 * compacts what a sink served by another relay process has not seen; a chain is compacted only once each
 * of those sinks has a cursor for it. A sink taken out of service keeps its cursors, and with them the
 * rows: delete its cursors to release them. Returns the rows deleted.
 */
export async function compactOutbox(sql: Sql, sinks: readonly string[]): Promise<number> {
  const rows = await sql`
    WITH known_sinks AS (
      SELECT DISTINCT sink FROM outbox_cursors
      UNION
      SELECT unnest(${sql.array([...sinks])}::text[])
    ), passed AS (
      SELECT tenant_id, shard, min(delivered_seq) AS seq
      FROM outbox_cursors
      GROUP BY tenant_id, shard
      HAVING count(*) = (SELECT count(*) FROM known_sinks)
    )
    DELETE FROM outbox o
    USING passed p
    WHERE o.tenant_id = p.tenant_id AND o.shard = p.shard AND o.seq <= p.seq`
  return rows.count
}
