import { recordEvents, type RequestOrigin } from '../audit/record-events.ts'
import type { Sql } from '../db/client.ts'
import { revokeSessions } from '../db/sessions.ts'
import { findTenantById } from '../db/tenants.ts'
import type { SessionClaims } from './tokens.ts'

export interface EndSessionDeps {
  sql: Sql
  clock: () => Date
}

/** The user a session event concerns: its identifier chooses the chain shard, as for its logins. */
async function identifierOf(sql: Sql, tenantId: string, userId: string): Promise<string | null> {
  const [row] = await sql<{ identifier: string }[]>`SELECT identifier FROM users WHERE tenant_id = ${tenantId} AND id = ${userId}`
  return row?.identifier ?? null
}

/**
 * Logs out: revokes the caller's session, or every session of the caller's user (`all`), and records
 * `logout` in the same transaction. Access tokens of a revoked session are refused from the next request.
 *
 * @example
 * await logOut(deps, { claims, scope: 'all', origin })
 */
export async function logOut(deps: EndSessionDeps, input: { claims: SessionClaims; scope: 'session' | 'all'; origin: RequestOrigin }): Promise<{ eventId: string; sessionsRevoked: number }> {
  const { claims } = input
  const identifier = await identifierOf(deps.sql, claims.tid, claims.sub)
  return deps.sql.begin(async (tx) => {
    const tenant = await findTenantById(tx, claims.tid)
    if (!tenant) throw new Error(`the tenant of a checked session is gone: ${claims.tid}`)
    const now = deps.clock()
    const which = input.scope === 'all' ? { userId: claims.sub } : { sessionId: claims.sid }
    const sessionsRevoked = await revokeSessions(tx, claims.tid, which, input.scope === 'all' ? 'logout_all' : 'logout', now)
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'logout',
          outcome: 'success',
          origin: input.origin,
          organisationId: claims.org,
          userId: claims.sub,
          identifier,
          tokenJti: claims.jti,
          metadata: { scope: input.scope, session_id: claims.sid, sessions_revoked: sessionsRevoked },
        },
      ],
      { now },
    )
    return { eventId: event!.id, sessionsRevoked }
  })
}

/**
 * An administrator revokes every session of a user of the same tenant, recorded as `session_revoked`
 * with the administrator as actor. Null when the tenant has no such user.
 */
export async function revokeUserSessions(
  deps: EndSessionDeps,
  input: { actor: SessionClaims; userId: string; origin: RequestOrigin },
): Promise<{ eventId: string; sessionsRevoked: number } | null> {
  const { actor } = input
  const [user] = await deps.sql<{ identifier: string; organisation_id: string }[]>`
    SELECT identifier, organisation_id FROM users WHERE tenant_id = ${actor.tid} AND id = ${input.userId}`
  if (!user) return null
  return deps.sql.begin(async (tx) => {
    const tenant = await findTenantById(tx, actor.tid)
    if (!tenant) throw new Error(`the tenant of a checked session is gone: ${actor.tid}`)
    const now = deps.clock()
    const sessionsRevoked = await revokeSessions(tx, actor.tid, { userId: input.userId }, 'admin_revoked', now)
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          eventType: 'session_revoked',
          outcome: 'success',
          reason: 'admin_revoked',
          origin: input.origin,
          organisationId: user.organisation_id,
          userId: input.userId,
          identifier: user.identifier,
          actorId: actor.sub,
          metadata: { sessions_revoked: sessionsRevoked },
        },
      ],
      { now },
    )
    return { eventId: event!.id, sessionsRevoked }
  })
}
