import { recordEvents } from '../audit/record-events.ts'
import { userChangeRefusal, type UserChangeRefusal } from '../core/administration.ts'
import { uuidv7 } from '../core/ids.ts'
import type { Role, TenantScope } from '../core/tenancy.ts'
import type { Sql, Tx } from '../db/client.ts'
import { retryWhileChangedMeanwhile } from '../db/sqlstate.ts'
import type { Tenant } from '../db/tenants.ts'
import { actorKindOf, type AdminActor } from './admin-actor.ts'
import type { AdministrationDeps } from './administer-tenants.ts'
import { newSecretToken } from '../core/secret-tokens.ts'

/** How long an invitation can be accepted. */
export const INVITATION_TTL_MS = 7 * 86_400_000

/** What a user management request may act on: the tenant and, for a tenant administrator, their organisation. */
export interface UserChangeRequest {
  tenant: Tenant
  scope: TenantScope
  actor: AdminActor
  /** The acting user's current role, when the actor is a tenant user (not an operator nor the service). */
  actorRole?: Role
}

export interface ManagedUser {
  id: string
  organisationId: string
  identifier: string
  role: Role
  status: 'active' | 'disabled'
  createdAt: string
}

interface UserRow {
  id: string
  organisation_id: string
  identifier: string
  role: Role
  disabled_at: Date | null
  created_at: Date
}

function managedUserOf(row: UserRow): ManagedUser {
  return {
    id: row.id,
    organisationId: row.organisation_id,
    identifier: row.identifier,
    role: row.role,
    status: row.disabled_at === null ? 'active' : 'disabled',
    createdAt: row.created_at.toISOString(),
  }
}

export type InviteResult =
  | { kind: 'invited'; invitationId: string; token: string; expiresAt: string; organisationId: string; eventId: string }
  | { kind: 'identifier_taken' }
  | { kind: 'unknown_organisation' }
  | { kind: 'refused'; refusal: UserChangeRefusal }

/**
 * Invites an identifier into an organisation with a role: stores the invitation (only its secret's
 * digest) and records `user_invited` in the account's chain, in one transaction. The secret is returned
 * once; the invitee registers with it (POST /v1/auth/register with `invitation`).
 */
export async function inviteUser(
  deps: AdministrationDeps,
  request: UserChangeRequest & { identifier: string; role: Role; organisationId?: string },
): Promise<InviteResult> {
  const { tenant, actor, identifier, role } = request
  if (request.actorRole !== undefined && userChangeRefusal({ userId: actor.userId ?? '', role: request.actorRole }, { userId: '', role: 'user' }, role)) {
    return { kind: 'refused', refusal: 'beyond_own_role' }
  }
  return deps.sql.begin(async (tx) => {
    const now = deps.clock()
    const organisationId = request.organisationId ?? request.scope.organisationId
    const [org] = organisationId
      ? await tx<{ id: string }[]>`SELECT id FROM organisations WHERE tenant_id = ${tenant.id} AND id = ${organisationId}`
      : await tx<{ id: string }[]>`SELECT id FROM organisations WHERE tenant_id = ${tenant.id} ORDER BY created_at, id LIMIT 1`
    if (!org) return { kind: 'unknown_organisation' } as const
    const [existing] = await tx`SELECT 1 FROM users WHERE tenant_id = ${tenant.id} AND identifier = ${identifier}`
    if (existing) return { kind: 'identifier_taken' } as const

    const { token, digest } = newSecretToken('inv')
    const invitationId = uuidv7(now.getTime())
    const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS)
    await tx`
      INSERT INTO invitations (id, tenant_id, organisation_id, identifier, role, token_sha256, invited_by, created_at, expires_at)
      VALUES (${invitationId}, ${tenant.id}, ${org.id}, ${identifier}, ${role}, ${Buffer.from(digest)}, ${actor.userId}, ${now}, ${expiresAt})`
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'user_invited',
          outcome: 'success',
          origin: actor.origin,
          organisationId: org.id,
          identifier,
          actorId: actor.userId,
          metadata: { actor_kind: actorKindOf(actor), invitation_id: invitationId, role, expires_at: expiresAt.toISOString() },
        },
      ],
      { now },
    )
    return { kind: 'invited', invitationId, token, expiresAt: expiresAt.toISOString(), organisationId: org.id, eventId: event!.id } as const
  })
}

export type UserChangeResult =
  | { kind: 'not_found' }
  | { kind: 'refused'; refusal: UserChangeRefusal }
  | { kind: 'unchanged'; user: ManagedUser }
  | { kind: 'changed'; user: ManagedUser; eventId: string }

/** Reads a user row within the request's scope (tenant, and organisation for an administrator). */
async function findUserInScope(tx: Tx, request: UserChangeRequest, target: { userId?: string; identifier?: string }): Promise<UserRow | undefined> {
  const { tenant, scope } = request
  const [row] = await tx<UserRow[]>`
    SELECT id, organisation_id, identifier, role, disabled_at, created_at FROM users
    WHERE tenant_id = ${tenant.id}
      ${target.userId !== undefined ? tx`AND id = ${target.userId}` : tx`AND identifier = ${target.identifier ?? ''}`}
      ${scope.organisationId !== null ? tx`AND organisation_id = ${scope.organisationId}` : tx``}`
  return row
}

function refusalOf(request: UserChangeRequest, row: UserRow, newRole?: Role): UserChangeRefusal | null {
  if (request.actorRole === undefined) return null
  return userChangeRefusal({ userId: request.actor.userId ?? '', role: request.actorRole }, { userId: row.id, role: row.role }, newRole)
}

/**
 * Gives a user a role by recording `user_role_changed` (from, to, actor) in the account's chain: the
 * database changes the role from the event, in the same call (apply_admin_events), and refuses it if the
 * role moved since it was read (then all is tried again). The same role again writes nothing.
 */
export async function changeUserRole(
  deps: AdministrationDeps,
  request: UserChangeRequest & { target: { userId?: string; identifier?: string }; role: Role },
): Promise<UserChangeResult> {
  const { tenant, actor, role } = request
  return retryWhileChangedMeanwhile(() => deps.sql.begin(async (tx) => {
    const row = await findUserInScope(tx, request, request.target)
    if (!row) return { kind: 'not_found' } as const
    const refusal = refusalOf(request, row, role)
    if (refusal) return { kind: 'refused', refusal } as const
    if (row.role === role) return { kind: 'unchanged', user: managedUserOf(row) } as const
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'user_role_changed',
          outcome: 'success',
          origin: actor.origin,
          organisationId: row.organisation_id,
          userId: row.id,
          identifier: row.identifier,
          actorId: actor.userId,
          metadata: { actor_kind: actorKindOf(actor), from: row.role, to: role },
        },
      ],
      { now: deps.clock(), applyChanges: true },
    )
    return { kind: 'changed', user: managedUserOf((await findUserInScope(tx, request, { userId: row.id }))!), eventId: event!.id } as const
  }))
}

/**
 * Disables or enables a user by recording `user_disabled` or `user_enabled` in the account's chain (the
 * database applies it from the event, as for roles). A disabled user's logins fail exactly like an unknown identifier's.
 */
export async function setUserStatus(
  deps: AdministrationDeps,
  request: UserChangeRequest & { target: { userId?: string; identifier?: string }; status: 'active' | 'disabled' },
): Promise<UserChangeResult> {
  const { tenant, actor, status } = request
  return retryWhileChangedMeanwhile(() => deps.sql.begin(async (tx) => {
    const row = await findUserInScope(tx, request, request.target)
    if (!row) return { kind: 'not_found' } as const
    const refusal = refusalOf(request, row)
    if (refusal) return { kind: 'refused', refusal } as const
    if ((row.disabled_at === null) === (status === 'active')) return { kind: 'unchanged', user: managedUserOf(row) } as const
    const now = deps.clock()
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: status === 'disabled' ? 'user_disabled' : 'user_enabled',
          outcome: 'success',
          origin: actor.origin,
          organisationId: row.organisation_id,
          userId: row.id,
          identifier: row.identifier,
          actorId: actor.userId,
          metadata: { actor_kind: actorKindOf(actor) },
        },
      ],
      { now, applyChanges: true },
    )
    return { kind: 'changed', user: managedUserOf((await findUserInScope(tx, request, { userId: row.id }))!), eventId: event!.id } as const
  }))
}

/** One page of the users in scope, in id (creation) order after the cursor's id: keyset pagination. */
export async function listUsers(sql: Sql, scope: TenantScope, page: { after: string | null; limit: number }): Promise<{ users: ManagedUser[]; next: string | null }> {
  const rows = await sql<UserRow[]>`
    SELECT id, organisation_id, identifier, role, disabled_at, created_at FROM users
    WHERE tenant_id = ${scope.tenantId}
      ${scope.organisationId !== null ? sql`AND organisation_id = ${scope.organisationId}` : sql``}
      ${page.after !== null ? sql`AND id > ${page.after}` : sql``}
    ORDER BY id LIMIT ${page.limit + 1}`
  const users = rows.slice(0, page.limit).map(managedUserOf)
  return { users, next: rows.length > page.limit ? users[users.length - 1]!.id : null }
}

/** The acting tenant user's current role and status, read at the time of the request rather than from the token. */
export async function currentRoleOf(sql: Sql, tenantId: string, userId: string): Promise<Role | null> {
  const [row] = await sql<{ role: Role }[]>`SELECT role FROM users WHERE tenant_id = ${tenantId} AND id = ${userId} AND disabled_at IS NULL`
  return row?.role ?? null
}
