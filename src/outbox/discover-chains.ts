import type { Sql } from '../db/client.ts'

/**
 * Creates the missing delivery cursors of a sink: one per chain that has outbox rows and no cursor yet.
 * A new cursor starts before the first event (`delivered_seq` 0). Cheap because compaction keeps the
 * outbox small; returns how many chains were new.
 */
export async function discoverChains(sql: Sql, sink: string): Promise<number> {
  const rows = await sql`
    INSERT INTO outbox_cursors (sink, tenant_id, shard)
    SELECT DISTINCT ${sink}, o.tenant_id, o.shard
    FROM outbox o
    WHERE NOT EXISTS (
      SELECT 1 FROM outbox_cursors c WHERE c.sink = ${sink} AND c.tenant_id = o.tenant_id AND c.shard = o.shard
    )
    ON CONFLICT ON CONSTRAINT outbox_cursors_pkey DO NOTHING`
  return rows.count
}
