import { SYSTEM_ACTOR } from '../admin/admin-actor.ts'
import { purgeExpiredEvents, type PurgeResult } from '../admin/purge-expired-events.ts'
import type { CheckpointSigner } from '../core/checkpoint.ts'
import type { Sql } from '../db/client.ts'
import { findTenantById } from '../db/tenants.ts'
import { resolveTenants } from './tenant-selection.ts'
import { VERIFY_EXIT } from './verify-chain-command.ts'

export interface PurgeRetentionCommand {
  tenants: string[]
  all: boolean
  /** Defaults to now; the database never purges past its own now(). */
  before: Date
  signer: CheckpointSigner | null
}

/**
 * The retention job: purges each tenant's expired events (see purgeExpiredEvents), one tenant per
 * transaction, as the service itself (channel `system`). Prints one line per tenant; returns the exit
 * code (2 for an unknown tenant).
 */
export async function runPurgeRetention(
  sql: Sql,
  command: PurgeRetentionCommand,
  print: (line: string) => void,
  clock: () => Date = () => new Date(),
  observe: { onStart?: (tenants: number) => void; onResult?: (tenant: { id: string; slug: string }, result: PurgeResult) => void } = {},
): Promise<number> {
  const { found, unknown } = await resolveTenants(sql, command.tenants, command.all)
  for (const name of unknown) print(`unknown tenant ${name}`)
  if (unknown.length > 0) return VERIFY_EXIT.unknownTenant
  observe.onStart?.(found.length)
  for (const { id } of found) {
    const tenant = await findTenantById(sql, id)
    if (!tenant) continue
    const result: PurgeResult = await purgeExpiredEvents(
      { sql, clock, signer: command.signer },
      { tenant, before: command.before, actor: SYSTEM_ACTOR },
    )
    observe.onResult?.(tenant, result)
    print(
      result.event_id
        ? `purged ${tenant.slug} (${tenant.id}): ${result.purged_events} events expired before ${result.before} from ${result.shards.length} chains; event ${result.event_id}`
        : `nothing expired in ${tenant.slug} (${tenant.id}) before ${result.before}`,
    )
  }
  return 0
}
