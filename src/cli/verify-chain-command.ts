import { recordChainVerification } from '../audit/chain-verifications.ts'
import { nodeDigester } from '../audit/node-digester.ts'
import { verifyTenantChain, type AnchoredBreak, type TenantVerification, type VerificationProgress } from '../audit/verify-tenant-chain.ts'
import type { CheckpointVerifier, SignedCheckpoint } from '../core/checkpoint.ts'
import type { Sql } from '../db/client.ts'
import type { DocumentStore } from '../sinks/docstore/document-store.ts'
import { resolveTenants } from './tenant-selection.ts'

export interface VerifyChainCommand {
  /** Tenant ids or slugs; empty with `all` means every tenant. */
  tenants: string[]
  all: boolean
  /** The published checkpoint keys; null leaves signatures unchecked. */
  verifier: CheckpointVerifier | null
  /** The document store whose checkpoint copies to compare with (--docstore). */
  documentStore?: DocumentStore | null
  /** Checkpoints read from a SIEM's file of received CEF lines (--siem-file), every tenant's. */
  siemCheckpoints?: readonly SignedCheckpoint[] | null
}

/** What a caller may watch of a verification as it runs (a command's progress and its --json result). */
export interface VerifyObserver {
  /** The number of events the chains hold past their retention checkpoints: about what will be verified. */
  onStart?: (events: number) => void
  onVerified?: (events: number) => void
  onResult?: (tenant: { id: string; slug: string }, result: TenantVerification) => void
}

/** How many events the tenants' chains hold after their retention checkpoints. */
export async function eventsToVerify(sql: Sql, tenantIds: string[]): Promise<number> {
  if (tenantIds.length === 0) return 0
  const [row] = await sql<{ events: number }[]>`
    SELECT coalesce(sum(h.seq - coalesce(c.seq, 0)), 0)::int8 AS events
    FROM chain_heads h
    LEFT JOIN chain_checkpoints c ON c.tenant_id = h.tenant_id AND c.shard = h.shard
    WHERE h.tenant_id IN ${sql(tenantIds)}`
  return row?.events ?? 0
}

/** Exit codes: 0 every chain verifies, 1 a chain is broken, 2 a named tenant does not exist. */
export const VERIFY_EXIT = { ok: 0, broken: 1, unknownTenant: 2 } as const

function describeBreak(b: AnchoredBreak): string {
  const anchor = b.anchor ? `, against the ${b.anchor} checkpoint; last agreeing anchored seq ${b.last_agreeing_seq ?? 0}` : ''
  return `first broken seq ${b.seq} in shard ${b.shard} (${b.reason}${b.eventId ? `, event ${b.eventId}` : ''}${anchor})`
}

/**
 * Verifies the chains of one tenant, several, or all, against their signed checkpoints and the anchors
 * given, printing one line per tenant and, for a broken one, the first broken sequence number and the
 * anchor that disagrees. Returns the exit code.
 *
 * @example
 * process.exitCode = await runVerifyChain(sql, { tenants: ['acme'], all: false, verifier }, console.log)
 */
export async function runVerifyChain(sql: Sql, command: VerifyChainCommand, print: (line: string) => void, observe: VerifyObserver = {}): Promise<number> {
  const { found, unknown } = await resolveTenants(sql, command.tenants, command.all)
  for (const name of unknown) print(`unknown tenant ${name}`)
  if (unknown.length > 0) return VERIFY_EXIT.unknownTenant
  observe.onStart?.(await eventsToVerify(sql, found.map((t) => t.id)))
  let broken = 0
  for (const tenant of found) {
    const docstore = command.documentStore ? await command.documentStore.listChainCheckpoints(tenant.id) : undefined
    const siem = command.siemCheckpoints?.filter((cp) => cp.tenantId === tenant.id)
    const started = performance.now()
    let reported = 0
    const onProgress = ({ verified }: VerificationProgress) => {
      observe.onVerified?.(verified - reported)
      reported = verified
    }
    const result = await verifyTenantChain(sql, tenant.id, nodeDigester, { verifier: command.verifier, anchors: { docstore, siem }, onProgress })
    observe.onResult?.(tenant, result)
    // Recorded for the console's overview. A database that refuses the write (a read-only standby, a role
    // without the grant) leaves the verdict as it is, and the output says it was not recorded.
    const unrecorded = await recordChainVerification(sql, { tenantId: tenant.id, result, via: 'command', verifiedBy: null, verifiedAt: new Date(), durationMs: performance.now() - started }).then(
      () => null,
      (error: unknown) => `  (not recorded for the console: ${error instanceof Error ? error.message : String(error)})`,
    )
    const retention = result.shards.filter((s) => s.checkpoint).length
    const c = result.checkpoints
    const anchors = [`${c.postgresql} in PostgreSQL`, ...(c.docstore === null ? [] : [`${c.docstore} in the document store`]), ...(c.siem === null ? [] : [`${c.siem} in the SIEM file`])]
    const signatures = c.signatures_checked ? `signatures checked${c.rejected ? `, ${c.rejected} anchor copies refused` : ''}` : 'signatures NOT checked (no keys)'
    const checkpoints = `signed checkpoints: ${anchors.join(', ')} (${signatures})`
    if (result.ok) {
      print(`ok ${tenant.slug} (${tenant.id}): ${result.verified_events} events in ${result.shards.length} chains, ${retention} from retention checkpoints; ${checkpoints}`)
      if (unrecorded) print(unrecorded)
      continue
    }
    broken++
    const b = result.first_break!
    print(`BROKEN ${tenant.slug} (${tenant.id}): ${describeBreak(b)}; ${checkpoints}`)
    for (const shard of result.shards.filter((s) => s.break && s.break !== b)) print(`  also ${describeBreak(shard.break!)}`)
    if (unrecorded) print(unrecorded)
  }
  return broken > 0 ? VERIFY_EXIT.broken : VERIFY_EXIT.ok
}
