import type { RiskEvaluation } from '../core/auth-event.ts'
import { deterministicUuid, uuidv7 } from '../core/ids.ts'
import { recordEvents, type RequestOrigin } from '../audit/record-events.ts'
import { recordInTransaction } from '../audit/record-in-transaction.ts'
import type { Sql } from '../db/client.ts'
import type { Tenant } from '../db/tenants.ts'
import type { PasswordHasher } from './password-hasher.ts'

export interface RegisterDeps {
  sql: Sql
  hasher: PasswordHasher
  clock: () => Date
}

export interface RegisterInput {
  tenant: Tenant
  organisationId: string | null
  identifier: string
  password: string
  origin: RequestOrigin
  idempotencyKey: string | null
}

/** Registration answers the same whether or not the identifier was free: no enumeration. */
export type RegisterResult =
  | { kind: 'accepted'; eventId: string }
  | { kind: 'weak_password'; eventId: string; detail: string }
  | { kind: 'unknown_organisation'; eventId: string }

/** ASVS V2.1.1/V2.1.2: at least 12 characters, at most 128; the identifier may not be part of it. */
export function passwordPolicyViolation(password: string, identifier: string): string | null {
  const length = [...password].length
  if (length < 12) return 'must be at least 12 characters'
  if (length > 128) return 'must be at most 128 characters'
  const local = identifier.split('@')[0] ?? ''
  if (local.length >= 4 && password.toLowerCase().includes(local)) return 'must not contain the identifier'
  return null
}

/** Registrations from one IP within an hour before it counts as a velocity signal. */
const IP_VELOCITY_THRESHOLD = 5

/**
 * Registers a user and audits it (registration_succeeded or registration_failed with its risk signals) in
 * one transaction. The password is hashed even when the identifier is taken, so timing reveals nothing.
 */
export async function registerUser(deps: RegisterDeps, input: RegisterInput): Promise<RegisterResult> {
  const { tenant, identifier, origin } = input
  const eventId = input.idempotencyKey
    ? deterministicUuid('register', tenant.id, identifier, input.idempotencyKey)
    : uuidv7(deps.clock().getTime())
  const violation = passwordPolicyViolation(input.password, identifier)
  const passwordHash = violation ? null : await deps.hasher.hash(input.password)

  const result = await recordInTransaction(deps.sql, async (tx) => {
    const now = deps.clock()
    const [org] = input.organisationId
      ? await tx<{ id: string }[]>`SELECT id FROM organisations WHERE tenant_id = ${tenant.id} AND id = ${input.organisationId}`
      : await tx<{ id: string }[]>`SELECT id FROM organisations WHERE tenant_id = ${tenant.id} ORDER BY created_at, id LIMIT 1`
    const [velocity] = await tx<{ n: number }[]>`
      SELECT count(*)::int AS n FROM auth_logs
      WHERE tenant_id = ${tenant.id} AND ip = ${origin.ip} AND event_type IN ('registration_succeeded', 'registration_failed')
        AND occurred_at > ${new Date(now.getTime() - 3_600_000)}`
    const signals: string[] = []
    if ((velocity?.n ?? 0) >= IP_VELOCITY_THRESHOLD) signals.push('ip_velocity')
    if (origin.userAgent === null) signals.push('missing_user_agent')

    let reason: 'unknown_organisation' | 'weak_password' | 'identifier_taken' | null = null
    let userId: string | null = null
    if (!org) reason = 'unknown_organisation'
    else if (violation) reason = 'weak_password'
    else {
      const [created] = await tx<{ id: string }[]>`
        INSERT INTO users (id, tenant_id, organisation_id, identifier, password_hash)
        VALUES (${uuidv7(now.getTime())}, ${tenant.id}, ${org.id}, ${identifier}, ${passwordHash})
        ON CONFLICT ON CONSTRAINT users_tenant_identifier_key DO NOTHING
        RETURNING id`
      if (created) userId = created.id
      else reason = 'identifier_taken'
    }
    if (reason === 'identifier_taken') signals.push('identifier_taken')
    const risk: RiskEvaluation = { score: Math.min(100, signals.length * 30 + (reason ? 20 : 0)), signals }

    const about = { id: eventId, origin, organisationId: org?.id ?? null, userId, identifier, risk }
    await recordEvents(
      tx,
      tenant,
      [
        reason
          ? { ...about, eventType: 'registration_failed', outcome: 'failure', reason, metadata: violation ? { password_policy: violation } : {} }
          : { ...about, eventType: 'registration_succeeded', outcome: 'success' },
      ],
      { now },
    )
    if (reason === 'unknown_organisation') return { kind: 'unknown_organisation', eventId } as const
    if (reason === 'weak_password') return { kind: 'weak_password', eventId, detail: violation! } as const
    return { kind: 'accepted', eventId } as const
  })
  // A registration retried with the same key records nothing new and is answered as accepted.
  return result.kind === 'already_recorded' ? { kind: 'accepted', eventId } : result
}
