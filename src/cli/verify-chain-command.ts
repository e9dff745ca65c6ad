import { nodeDigester } from '../audit/node-digester.ts'
import { verifyTenantChain } from '../audit/verify-tenant-chain.ts'
import type { Sql } from '../db/client.ts'
import { resolveTenants } from './tenant-selection.ts'

export interface VerifyChainCommand {
  /** Tenant ids or slugs; empty with `all` means every tenant. */
  tenants: string[]
  all: boolean
  checkpointKey: Uint8Array | null
}

/** Exit codes: 0 every chain verifies, 1 a chain is broken, 2 a named tenant does not exist. */
export const VERIFY_EXIT = { ok: 0, broken: 1, unknownTenant: 2 } as const

/**
 * Verifies the chains of one tenant, several, or all, printing one line per tenant and, for a broken
 * one, the first broken sequence number. Returns the exit code.
 *
 * @example
 * process.exitCode = await runVerifyChain(sql, { tenants: ['acme'], all: false, checkpointKey: null }, console.log)
 */
export async function runVerifyChain(sql: Sql, command: VerifyChainCommand, print: (line: string) => void): Promise<number> {
  const { found, unknown } = await resolveTenants(sql, command.tenants, command.all)
  for (const name of unknown) print(`unknown tenant ${name}`)
  if (unknown.length > 0) return VERIFY_EXIT.unknownTenant
  let broken = 0
  for (const tenant of found) {
    const result = await verifyTenantChain(sql, tenant.id, nodeDigester, { checkpointKey: command.checkpointKey })
    const checkpoints = result.shards.filter((s) => s.checkpoint).length
    if (result.ok) {
      print(`ok ${tenant.slug} (${tenant.id}): ${result.verified_events} events in ${result.shards.length} chains, ${checkpoints} from retention checkpoints`)
      continue
    }
    broken++
    const b = result.first_break!
    print(`BROKEN ${tenant.slug} (${tenant.id}): first broken seq ${b.seq} in shard ${b.shard} (${b.reason}${b.eventId ? `, event ${b.eventId}` : ''})`)
    for (const shard of result.shards.filter((s) => s.break && s.break !== b)) {
      print(`  also shard ${shard.shard} at seq ${shard.break!.seq} (${shard.break!.reason})`)
    }
  }
  return broken > 0 ? VERIFY_EXIT.broken : VERIFY_EXIT.ok
}
