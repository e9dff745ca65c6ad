import { uuidv7 } from '../core/ids.ts'
import { recordEvents, type RequestOrigin } from '../audit/record-events.ts'
import type { Sql } from '../db/client.ts'
import { issueRefreshToken, isOriginAllowedForTenant, lockRefreshToken, revokeSessions } from '../db/sessions.ts'
import { findTenantById } from '../db/tenants.ts'
import { randomSecret, secretDigest, secretMatches } from './session-secrets.ts'
import type { SessionClaims, TokenService } from './tokens.ts'

export interface RefreshDeps {
  sql: Sql
  tokens: TokenService
  clock: () => Date
  tokenTtlSeconds: number
}

export interface RefreshInput {
  refreshToken: string
  /** The device the request says it comes from (mobile): must be the session's own. */
  deviceId: string | null
  origin: Omit<RequestOrigin, 'channel' | 'deviceId'>
  /** When the refresh token came from a cookie: the X-CSRF-Token sent with it (checked); undefined otherwise. */
  csrfToken?: string | null
  /** The Origin of a request from another origin: the session's tenant must allow it. */
  crossOrigin: string | null
}

export type RefreshResult =
  | { kind: 'refreshed'; accessToken: string; claims: SessionClaims; refreshToken: string; sessionExpiresAt: Date; eventId: string }
  /** Unknown, expired or revoked: nothing is recorded (an unknown token names no tenant to record it in). */
  | { kind: 'invalid' }
  | { kind: 'csrf_failed' }
  | { kind: 'origin_not_allowed' }
  /** A rotated token presented again, or from another device: the whole family was revoked and the event recorded. */
  | { kind: 'reuse_detected'; eventId: string }

/**
 * Rotates a refresh token (OAuth 2.0 Security BCP, RFC 9700 §4.14.2): in one transaction, under the
 * session's row lock, the presented token is marked rotated, a new one issued, a new access token signed
 * with the user's current role, and `token_refreshed` recorded. A token rotated already, or a
 * device-bound token from another device, revokes the whole session and records `refresh_reuse_detected`.
 */
export async function refreshSession(deps: RefreshDeps, input: RefreshInput): Promise<RefreshResult> {
  return deps.sql.begin(async (tx): Promise<RefreshResult> => {
    const found = await lockRefreshToken(tx, secretDigest(input.refreshToken))
    const now = deps.clock()
    if (!found || found.session.revoked_at !== null || found.session.expires_at <= now) return { kind: 'invalid' }
    const { session, user } = found
    if (input.csrfToken !== undefined && !secretMatches(input.csrfToken, session.csrf_hash)) return { kind: 'csrf_failed' }
    if (input.crossOrigin !== null && !(await isOriginAllowedForTenant(tx, session.tenant_id, input.crossOrigin))) return { kind: 'origin_not_allowed' }

    const tenant = await findTenantById(tx, session.tenant_id)
    if (!tenant) return { kind: 'invalid' }
    const origin: RequestOrigin = { ...input.origin, channel: session.channel, deviceId: input.deviceId ?? session.device_id }
    const about = { origin, organisationId: user.organisationId, userId: session.user_id, identifier: user.identifier }

    const reused = found.rotatedAt !== null
    const wrongDevice = session.device_id !== null && input.deviceId !== session.device_id
    if (reused || wrongDevice) {
      const reason = reused ? 'refresh_token_reused' : 'device_mismatch'
      await revokeSessions(tx, session.tenant_id, { sessionId: session.id }, reason, now)
      const [event] = await recordEvents(
        tx,
        tenant,
        [{ ...about, eventType: 'refresh_reuse_detected', outcome: 'failure', reason, metadata: { session_id: session.id, rotated_at: found.rotatedAt?.toISOString() ?? null } }],
        { now },
      )
      return { kind: 'reuse_detected', eventId: event!.id }
    }

    const refreshToken = randomSecret()
    await issueRefreshToken(tx, session.tenant_id, session.id, secretDigest(refreshToken), now)
    const iat = Math.floor(now.getTime() / 1000)
    // An access token never outlives its session.
    const exp = Math.min(iat + deps.tokenTtlSeconds, Math.floor(session.expires_at.getTime() / 1000))
    const claims: Omit<SessionClaims, 'iss'> = {
      sub: session.user_id,
      tid: session.tenant_id,
      org: user.organisationId,
      role: user.role,
      jti: uuidv7(now.getTime()),
      sid: session.id,
      ...(session.device_id ? { did: session.device_id } : {}),
      iat,
      exp,
    }
    const accessToken = await deps.tokens.issue(claims)
    const [event] = await recordEvents(
      tx,
      tenant,
      [
        {
          ...about,
          eventType: 'token_refreshed',
          outcome: 'success',
          tokenJti: claims.jti,
          metadata: { session_id: session.id, token_expires_at: new Date(exp * 1000).toISOString(), session_expires_at: session.expires_at.toISOString() },
        },
      ],
      { now },
    )
    return { kind: 'refreshed', accessToken, claims: { ...claims, iss: deps.tokens.issuer }, refreshToken, sessionExpiresAt: session.expires_at, eventId: event!.id }
  })
}
