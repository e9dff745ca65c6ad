import type { Sql } from '../db/client.ts'
import type { VerificationVia } from './chain-verifications.ts'

/** The advisory lock class of chain verifications ('autv'); the tenant's hash is the object. */
const VERIFICATION_LOCK_CLASS = 0x61757476

/** A verification of the tenant's chains that another instance is running. */
export interface RunningVerification {
  /** Null if the instance holding the lock had not noted its start yet. */
  startedAt: Date | null
  /** The user who asked for it (through the API); null for the command or when unknown. */
  startedBy: string | null
  via: VerificationVia | null
  /** How long the tenant's last recorded verification took, to estimate when this one ends; null if never. */
  lastDurationMs: number | null
}

export type VerificationLock = { kind: 'held'; release(): Promise<void> } | { kind: 'running'; running: RunningVerification }

/**
 * Takes the tenant's verification lock, so that its chains are verified by at most one instance at a time:
 * a session advisory lock (pg_try_advisory_lock, which any role may take) on a connection reserved for
 * the verification's duration, released by `release()` or, should the instance die, with its connection.
 * When another instance holds it, answers what that one noted of its verification instead of waiting.
 * A pool of one connection (the embedded database, which one process alone serves) cannot hold the lock
 * beside the verification's own reads: there the in-process single flight is the whole guarantee.
 */
export async function lockTenantVerification(
  sql: Sql,
  input: { tenantId: string; startedBy: string | null; via: VerificationVia; now: Date },
): Promise<VerificationLock> {
  if (sql.options.max <= 1) return { kind: 'held', release: async () => {} }
  const connection = await sql.reserve()
  const unlock = () => connection`SELECT pg_advisory_unlock(${VERIFICATION_LOCK_CLASS}::int, hashtext(${input.tenantId}::text))`
  let kept = false
  try {
    const [row] = await connection<{ locked: boolean }[]>`
      SELECT pg_try_advisory_lock(${VERIFICATION_LOCK_CLASS}::int, hashtext(${input.tenantId}::text)) AS locked`
    if (!row!.locked) return { kind: 'running', running: await readRunningVerification(sql, input.tenantId) }
    try {
      await connection`
        INSERT INTO chain_verification_runs (tenant_id, started_at, started_by, via)
        VALUES (${input.tenantId}, ${input.now}, ${input.startedBy}, ${input.via})
        ON CONFLICT (tenant_id) DO UPDATE SET started_at = EXCLUDED.started_at, started_by = EXCLUDED.started_by, via = EXCLUDED.via`
    } catch (error) {
      await unlock().catch(() => {})
      throw error
    }
    kept = true
    return {
      kind: 'held',
      release: async () => {
        try {
          await unlock()
        } finally {
          connection.release()
        }
      },
    }
  } finally {
    if (!kept) connection.release()
  }
}

async function readRunningVerification(sql: Sql, tenantId: string): Promise<RunningVerification> {
  const [row] = await sql<{ started_at: Date | null; started_by: string | null; via: VerificationVia | null; last_duration_ms: number | null }[]>`
    SELECT r.started_at, r.started_by, r.via,
      (SELECT v.duration_ms FROM chain_verifications v WHERE v.tenant_id = ${tenantId} ORDER BY v.verified_at DESC LIMIT 1) AS last_duration_ms
    FROM (SELECT ${tenantId}::uuid AS tenant_id) t
    LEFT JOIN chain_verification_runs r ON r.tenant_id = t.tenant_id`
  return { startedAt: row?.started_at ?? null, startedBy: row?.started_by ?? null, via: row?.via ?? null, lastDurationMs: row?.last_duration_ms ?? null }
}
