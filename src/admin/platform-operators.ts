import { recordEvents } from '../audit/record-events.ts'
import { uuidv7 } from '../core/ids.ts'
import { UNATTRIBUTED_TENANT } from '../core/tenancy.ts'
import type { Sql } from '../db/client.ts'
import { SYSTEM_ACTOR } from './admin-actor.ts'
import type { AdministrationDeps } from './administer-tenants.ts'
import { digestOfToken, newSecretToken } from '../core/secret-tokens.ts'

/** A platform operator: creates, lists and updates tenants through /v1/platform. */
export interface PlatformOperator {
  id: string
  name: string
}

export type BootstrapResult = { kind: 'created'; operator: PlatformOperator; token: string; eventId: string } | { kind: 'already_bootstrapped' }

/**
 * Creates the first platform operator and returns its credential, once: there is no default operator
 * and no default secret. Refused when an operator exists already (the advisory lock makes two
 * concurrent bootstraps create one). Recorded as `operator_created` in the service's own chain.
 */
export async function bootstrapOperator(deps: AdministrationDeps, name: string): Promise<BootstrapResult> {
  return deps.sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('authtrail.operator_bootstrap'))`
    const [existing] = await tx`SELECT 1 FROM platform_operators WHERE revoked_at IS NULL LIMIT 1`
    if (existing) return { kind: 'already_bootstrapped' } as const
    const now = deps.clock()
    const operator = { id: uuidv7(now.getTime()), name }
    const { token, digest } = newSecretToken('atop')
    await tx`INSERT INTO platform_operators (id, name, token_sha256, created_at) VALUES (${operator.id}, ${name}, ${Buffer.from(digest)}, ${now})`
    const [event] = await recordEvents(
      tx,
      UNATTRIBUTED_TENANT,
      [{ eventType: 'operator_created', outcome: 'success', origin: SYSTEM_ACTOR.origin, metadata: { actor_kind: 'service', operator_id: operator.id, operator_name: name } }],
      { now },
    )
    return { kind: 'created', operator, token, eventId: event!.id } as const
  })
}

/** The operator holding a credential, or null: looked up by the credential's SHA-256 digest. */
export async function findOperatorByToken(sql: Sql, token: string): Promise<PlatformOperator | null> {
  const [row] = await sql<PlatformOperator[]>`
    SELECT id, name FROM platform_operators WHERE token_sha256 = ${Buffer.from(digestOfToken(token))} AND revoked_at IS NULL`
  return row ?? null
}
