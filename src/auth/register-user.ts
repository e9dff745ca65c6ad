import type { RiskEvaluation } from '../core/auth-event.ts'
import { acceptsAnonymousRegistration, acceptsInvitations } from '../core/administration.ts'
import type { Role } from '../core/tenancy.ts'
import { digestOfToken } from '../core/secret-tokens.ts'
import { deterministicUuid, uuidv7 } from '../core/ids.ts'
import { recordEvents, type RequestOrigin } from '../audit/record-events.ts'
import { isEventRecorded, withKnownOutcome } from '../audit/unknown-write-outcome.ts'
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
  /** An invitation's secret: the only way a registration gets an organisation or a role. */
  invitation: string | null
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
  /** The tenant accepts no registration of this kind (its registration mode). */
  | { kind: 'registration_closed'; eventId: string }
  /** No such invitation for this identifier, or it was used or has expired. */
  | { kind: 'invitation_invalid'; eventId: string }

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

type FailureReason = 'unknown_organisation' | 'weak_password' | 'identifier_taken' | 'registration_closed' | 'invitation_invalid'

/**
 * Registers a user and audits it (registration_succeeded or registration_failed with its risk signals) in
 * one transaction. The password is hashed even when the identifier is taken, so timing reveals nothing.
 *
 * Where the account goes is never the anonymous caller's choice: with an invitation, the invitation's
 * organisation and role (the invitation is used up in the same transaction); without one, and only in
 * a tenant whose registration mode is `open`, the tenant's first organisation as a `user`. A refused
 * `identifier_taken` is filed under the existing account's organisation, so that no other
 * organisation's auditor learns the account exists.
 */
export async function registerUser(deps: RegisterDeps, input: RegisterInput): Promise<RegisterResult> {
  const { tenant, identifier, origin } = input
  const eventId = input.idempotencyKey
    ? deterministicUuid('register', tenant.id, identifier, input.idempotencyKey)
    : uuidv7(deps.clock().getTime())
  const violation = passwordPolicyViolation(input.password, identifier)
  const passwordHash = violation ? null : await deps.hasher.hash(input.password)

  // The answer the registration gives once recorded, kept should the commit's acknowledgement be lost.
  let pending: RegisterResult | undefined
  const record = () => recordInTransaction(deps.sql, async (tx) => {
    const now = deps.clock()
    const [velocity] = await tx<{ n: number }[]>`
      SELECT count(*)::int AS n FROM auth_logs
      WHERE tenant_id = ${tenant.id} AND ip = ${origin.ip} AND event_type IN ('registration_succeeded', 'registration_failed')
        AND occurred_at > ${new Date(now.getTime() - 3_600_000)}`
    const signals: string[] = []
    if ((velocity?.n ?? 0) >= IP_VELOCITY_THRESHOLD) signals.push('ip_velocity')
    if (origin.userAgent === null) signals.push('missing_user_agent')

    let reason: FailureReason | null = null
    let place: { organisationId: string; role: Role; invitationId: string | null } | null = null
    if (input.invitation !== null) {
      if (!acceptsInvitations(tenant.registrationMode)) reason = 'registration_closed'
      else if (violation) reason = 'weak_password' // the invitation stays usable
      else {
        // Used up here, under its row lock: accepted once, by the identifier it names, before it expires.
        const [invitation] = await tx<{ id: string; organisation_id: string; role: Role }[]>`
          UPDATE invitations SET accepted_at = ${now}
          WHERE tenant_id = ${tenant.id} AND token_sha256 = ${Buffer.from(digestOfToken(input.invitation))}
            AND identifier = ${identifier} AND accepted_at IS NULL AND expires_at > ${now}
          RETURNING id, organisation_id, role`
        if (invitation) place = { organisationId: invitation.organisation_id, role: invitation.role, invitationId: invitation.id }
        else reason = 'invitation_invalid'
      }
    } else if (!acceptsAnonymousRegistration(tenant.registrationMode)) reason = 'registration_closed'
    else {
      const [org] = await tx<{ id: string }[]>`SELECT id FROM organisations WHERE tenant_id = ${tenant.id} ORDER BY created_at, id LIMIT 1`
      if (org) place = { organisationId: org.id, role: 'user', invitationId: null }
      else reason = 'unknown_organisation'
    }

    let userId: string | null = null
    let organisationId = place?.organisationId ?? null
    if (place && violation) reason = 'weak_password'
    else if (place && !reason) {
      const [created] = await tx<{ id: string }[]>`
        INSERT INTO users (id, tenant_id, organisation_id, identifier, password_hash, role)
        VALUES (${uuidv7(now.getTime())}, ${tenant.id}, ${place.organisationId}, ${identifier}, ${passwordHash}, ${place.role})
        ON CONFLICT ON CONSTRAINT users_tenant_identifier_key DO NOTHING
        RETURNING id`
      if (created) userId = created.id
      else {
        reason = 'identifier_taken'
        const [existing] = await tx<{ organisation_id: string }[]>`
          SELECT organisation_id FROM users WHERE tenant_id = ${tenant.id} AND identifier = ${identifier}`
        organisationId = existing?.organisation_id ?? null
      }
    }
    if (reason === 'identifier_taken') signals.push('identifier_taken')
    const risk: RiskEvaluation = { score: Math.min(100, signals.length * 30 + (reason ? 20 : 0)), signals }

    const about = { id: eventId, origin, organisationId, userId, identifier, risk }
    const invited = place?.invitationId ? { invitation_id: place.invitationId, role: place.role } : {}
    await recordEvents(
      tx,
      tenant,
      [
        reason
          ? { ...about, eventType: 'registration_failed', outcome: 'failure', reason, metadata: reason === 'weak_password' ? { password_policy: violation! } : {} }
          : { ...about, eventType: 'registration_succeeded', outcome: 'success', metadata: invited },
      ],
      { now },
    )
    const answer: RegisterResult =
      reason === 'identifier_taken' || reason === null
        ? { kind: 'accepted', eventId }
        : reason === 'weak_password'
          ? { kind: 'weak_password', eventId, detail: violation! }
          : { kind: reason, eventId }
    pending = answer
    return answer
  })
  // Should the outcome be unknown (connection lost, or the bound passing mid-commit): recorded under a
  // keyed id (perhaps by a concurrent retry), accepted as a retry would be; otherwise as this one was.
  const ifRecorded = async (): Promise<RegisterResult | null> => {
    if (!(await isEventRecorded(deps.sql, tenant.id, eventId))) return null
    return input.idempotencyKey || !pending ? { kind: 'accepted', eventId } : pending
  }
  const result = await withKnownOutcome(deps.sql, record, ifRecorded)
  // A registration retried with the same key records nothing new and is answered as accepted.
  return result.kind === 'already_recorded' ? { kind: 'accepted', eventId } : result
}
