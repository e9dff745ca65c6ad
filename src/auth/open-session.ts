import type { Sql } from '../db/client.ts'
import type { Queryable } from '../db/queryable.ts'
import { openSessionRows, type SessionChannel, type SessionOpening } from '../db/sessions.ts'
import { randomSecret, secretDigest } from './session-secrets.ts'
import type { SessionClaims } from './tokens.ts'

export interface OpenedSession {
  /** Opaque; stored only as its SHA-256. */
  refreshToken: string
  /** Web sessions only: what a cookie-authenticated request must send as X-CSRF-Token. */
  csrfToken: string | null
  expiresAt: Date
}

/**
 * Stores the session a successful login's access token names (`sid`) and issues its first refresh token,
 * in one transaction. A replayed login (same Idempotency-Key) finds its session and gets a fresh refresh
 * token that rotates the first one, so the answer the client lost can no longer be used alone.
 *
 * @example
 * const opened = await openSession(sql, { claims, channel: 'mobile', deviceId: 'ios-6F2C9A', now, ttlSeconds: 2_592_000 })
 */
export async function openSession(sql: Sql, input: SessionToOpen): Promise<OpenedSession> {
  return sql.begin((tx) => openSessionIn(tx, input))
}

export interface SessionToOpen {
  claims: SessionClaims
  channel: SessionChannel
  deviceId: string | null
  now: Date
  ttlSeconds: number
}

/**
 * Stores the session and its first refresh token inside the caller's transaction (a refresh, a replayed
 * login). A first login stores them in the very call that records it (prepareSession, then the append).
 */
async function openSessionIn(tx: Queryable, input: SessionToOpen): Promise<OpenedSession> {
  const { opening, opened } = prepareSession(input)
  await openSessionRows(tx, opening, input.now)
  return opened
}

/**
 * A session's secrets and the rows that store it, not yet written: what the client is given (`opened`)
 * and what the database keeps of it (`opening`, digests only).
 */
export function prepareSession(input: SessionToOpen): { opening: SessionOpening; opened: OpenedSession } {
  const { claims } = input
  const refreshToken = randomSecret()
  const csrfToken = input.channel === 'web' ? randomSecret() : null
  // The session begins with the login, so a replay computes the same expiry.
  const expiresAt = new Date(claims.iat * 1000 + input.ttlSeconds * 1000)
  const session = {
    id: claims.sid,
    tenantId: claims.tid,
    userId: claims.sub,
    channel: input.channel,
    deviceId: input.deviceId,
    csrfHash: csrfToken ? secretDigest(csrfToken) : null,
    createdAt: new Date(claims.iat * 1000),
    expiresAt,
  }
  return { opening: { session, refreshTokenHash: secretDigest(refreshToken) }, opened: { refreshToken, csrfToken, expiresAt } }
}
