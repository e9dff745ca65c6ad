import type { Role } from '../core/tenancy.ts'
import type { Queryable } from './queryable.ts'

export type SessionChannel = 'web' | 'mobile'
export type RevokedReason = 'logout' | 'logout_all' | 'refresh_token_reused' | 'device_mismatch' | 'admin_revoked'

/** A row of auth_sessions. */
export interface SessionRow {
  id: string
  tenant_id: string
  user_id: string
  channel: SessionChannel
  device_id: string | null
  csrf_hash: Uint8Array | null
  created_at: Date
  expires_at: Date
  revoked_at: Date | null
  revoked_reason: RevokedReason | null
}

export interface NewSession {
  id: string
  tenantId: string
  userId: string
  channel: SessionChannel
  deviceId: string | null
  csrfHash: Uint8Array | null
  createdAt: Date
  expiresAt: Date
}

/** A session and its first refresh token's digest, as a successful login stores them with its event. */
export interface SessionOpening {
  session: NewSession
  refreshTokenHash: Uint8Array
}

/** The argument append_login_attempt_opening_session() takes: the session's columns, digests in hex. */
export function sessionOpeningJson({ session: s, refreshTokenHash }: SessionOpening): Record<string, string | null> {
  return {
    id: s.id,
    user_id: s.userId,
    channel: s.channel,
    device_id: s.deviceId,
    csrf_hash: s.csrfHash ? Buffer.from(s.csrfHash).toString('hex') : null,
    created_at: s.createdAt.toISOString(),
    expires_at: s.expiresAt.toISOString(),
    refresh_token_hash: Buffer.from(refreshTokenHash).toString('hex'),
  }
}

/**
 * Stores a session and issues its first refresh token, through open_session() (the one definition of a
 * session's rows, which the login's append call uses too); a replayed login finds its session there already,
 * replaces its CSRF token digest and rotates its token.
 */
export async function openSessionRows(sql: Queryable, opening: SessionOpening, now: Date): Promise<void> {
  await sql`SELECT open_session(${opening.session.tenantId}::uuid, ${sql.json(sessionOpeningJson(opening) as never)}, ${now})`
}

/** Issues a refresh token of the session, through issue_refresh_token(): its token still unrotated, if any, is rotated by it (one live token per family). */
export async function issueRefreshToken(sql: Queryable, tenantId: string, sessionId: string, tokenHash: Uint8Array, now: Date): Promise<void> {
  await sql`SELECT issue_refresh_token(${tenantId}::uuid, ${sessionId}::uuid, ${Buffer.from(tokenHash)}, ${now})`
}

/** A refresh token with its session and user, as a refresh reads it under the session's row lock. */
export interface RefreshTokenRow {
  session: SessionRow
  rotatedAt: Date | null
  user: { identifier: string; organisationId: string; role: Role }
}

/** Finds a refresh token by its hash and locks its session's row (concurrent refreshes of one family queue). */
export async function lockRefreshToken(sql: Queryable, tokenHash: Uint8Array): Promise<RefreshTokenRow | null> {
  const [row] = await sql<(SessionRow & { rotated_at: Date | null; identifier: string; organisation_id: string; role: Role })[]>`
    SELECT s.*, r.rotated_at, u.identifier, u.organisation_id, u.role
    FROM refresh_tokens r
    JOIN auth_sessions s ON s.tenant_id = r.tenant_id AND s.id = r.session_id
    JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
    WHERE r.token_hash = ${Buffer.from(tokenHash)}
    FOR UPDATE OF s`
  if (!row) return null
  // Read again under the lock: after waiting for it, the statement above still saw the token as its
  // snapshot had it, so a concurrent refresh of the same token would pass unnoticed.
  const [token] = await sql<{ rotated_at: Date | null }[]>`SELECT rotated_at FROM refresh_tokens WHERE token_hash = ${Buffer.from(tokenHash)}`
  const { rotated_at: _stale, identifier, organisation_id, role, ...session } = row
  return { session, rotatedAt: token!.rotated_at, user: { identifier, organisationId: organisation_id, role } }
}

/** Revokes sessions not yet revoked; answers how many. */
export async function revokeSessions(
  sql: Queryable,
  tenantId: string,
  which: { sessionId: string } | { userId: string },
  reason: RevokedReason,
  now: Date,
): Promise<number> {
  const result = await sql`
    UPDATE auth_sessions SET revoked_at = ${now}, revoked_reason = ${reason}
    WHERE tenant_id = ${tenantId} AND revoked_at IS NULL
      AND ${'sessionId' in which ? sql`id = ${which.sessionId}` : sql`user_id = ${which.userId}`}`
  return result.count
}

/** What the per-request check of an access token reads: one indexed row with its user's role and its tenant's origins. */
export interface SessionCheckRow {
  user_id: string
  revoked_at: Date | null
  expires_at: Date
  csrf_hash: Uint8Array | null
  current_role: Role
  origin_allowed: boolean
}

export async function findSessionForCheck(sql: Queryable, tenantId: string, sessionId: string, origin: string | null): Promise<SessionCheckRow | null> {
  const [row] = await sql<SessionCheckRow[]>`
    SELECT s.user_id, s.revoked_at, s.expires_at, s.csrf_hash, u.role AS current_role,
           coalesce(${origin}::text = ANY (t.allowed_origins), false) AS origin_allowed
    FROM auth_sessions s
    JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
    JOIN tenants t ON t.id = s.tenant_id
    WHERE s.tenant_id = ${tenantId} AND s.id = ${sessionId}`
  return row ?? null
}

/** Whether any tenant lists the origin (a preflight names no tenant); the request itself is then checked against its own. */
export async function isOriginAllowedByAnyTenant(sql: Queryable, origin: string): Promise<boolean> {
  const [row] = await sql<{ allowed: boolean }[]>`SELECT EXISTS (SELECT 1 FROM tenants WHERE allowed_origins @> ARRAY[${origin}::text]) AS allowed`
  return row!.allowed
}

/** Whether the tenant lists the origin. */
export async function isOriginAllowedForTenant(sql: Queryable, tenantId: string, origin: string): Promise<boolean> {
  const [row] = await sql<{ allowed: boolean }[]>`SELECT EXISTS (SELECT 1 FROM tenants WHERE id = ${tenantId} AND allowed_origins @> ARRAY[${origin}::text]) AS allowed`
  return row!.allowed
}
