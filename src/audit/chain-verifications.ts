import { uuidv7 } from '../core/ids.ts'
import type { Queryable } from '../db/queryable.ts'
import type { TenantVerification } from './verify-tenant-chain.ts'

/** Where a verification was asked for: the API (a user) or the command. */
export type VerificationVia = 'api' | 'command'

/** A verification as recorded: when, by whom, and what it found. */
export interface RecordedVerification {
  verifiedAt: Date
  ok: boolean
  verifiedEvents: number
  firstBreak: { shard: number; seq: number; reason: string; anchor?: string } | null
  signaturesChecked: boolean
  via: VerificationVia
  /** The user who asked, for a verification through the API; their identifier when the account still exists. */
  verifiedBy: { userId: string; identifier: string | null } | null
  durationMs: number
}

/**
 * Records the result of verifying a tenant's chains (table chain_verifications), so that the live
 * overview can show the last one. A record of a check, not evidence: anyone doubting it verifies again.
 *
 * @example
 * await recordChainVerification(sql, { tenantId, result, via: 'api', verifiedBy: session.sub, verifiedAt, durationMs })
 */
export async function recordChainVerification(
  sql: Queryable,
  input: { tenantId: string; result: TenantVerification; via: VerificationVia; verifiedBy: string | null; verifiedAt: Date; durationMs: number },
): Promise<void> {
  const b = input.result.first_break
  const firstBreak = b ? { shard: b.shard, seq: b.seq, reason: b.reason, ...(b.anchor ? { anchor: b.anchor } : {}) } : null
  await sql`
    INSERT INTO chain_verifications (id, tenant_id, verified_at, ok, verified_events, first_break, signatures_checked, via, verified_by, duration_ms)
    VALUES (${uuidv7()}, ${input.tenantId}, ${input.verifiedAt}, ${input.result.ok}, ${input.result.verified_events},
      ${firstBreak === null ? null : sql.json(firstBreak)}, ${input.result.checkpoints.signatures_checked}, ${input.via},
      ${input.verifiedBy}, ${Math.max(0, Math.round(input.durationMs))})`
}

/** The tenant's newest recorded verification, or null when its chains were never verified. Scoped to the tenant in SQL. */
export async function readLastVerification(sql: Queryable, tenantId: string): Promise<RecordedVerification | null> {
  const [row] = await sql<
    {
      verified_at: Date
      ok: boolean
      verified_events: string
      first_break: RecordedVerification['firstBreak']
      signatures_checked: boolean
      via: VerificationVia
      verified_by: string | null
      identifier: string | null
      duration_ms: number
    }[]
  >`
    SELECT v.verified_at, v.ok, v.verified_events::text, v.first_break, v.signatures_checked, v.via, v.verified_by, u.identifier, v.duration_ms
    FROM chain_verifications v
    LEFT JOIN users u ON u.tenant_id = v.tenant_id AND u.id = v.verified_by
    WHERE v.tenant_id = ${tenantId}
    ORDER BY v.verified_at DESC, v.id DESC
    LIMIT 1`
  if (!row) return null
  return {
    verifiedAt: row.verified_at,
    ok: row.ok,
    verifiedEvents: Number(row.verified_events),
    firstBreak: row.first_break,
    signaturesChecked: row.signatures_checked,
    via: row.via,
    verifiedBy: row.verified_by === null ? null : { userId: row.verified_by, identifier: row.identifier },
    durationMs: row.duration_ms,
  }
}
