import { z } from 'zod'
import type { Sql } from '../db/client.ts'
import { findSessionForCheck } from '../db/sessions.ts'
import { ApiError } from '../errors/codes.ts'
import { secretMatches } from './session-secrets.ts'
import type { SessionClaims } from './tokens.ts'

/** How the access token arrived, and what came with it. */
export interface PresentedCredential {
  /** From the session cookie rather than the Authorization header. */
  viaCookie: boolean
  /** The X-CSRF-Token header. */
  csrfToken: string | null
  /** Anything but GET, HEAD and OPTIONS. */
  unsafeMethod: boolean
  /** The Origin header when it is not the service's own origin; null for same-origin and non-browser requests. */
  crossOrigin: string | null
}

/** Checks, per request, that a verified access token's session still admits it; throws the refusal. */
export type SessionCheck = (claims: SessionClaims, presented: PresentedCredential) => Promise<void>

const uuid = z.string().uuid()
const CheckedClaims = z.object({ sub: uuid, tid: uuid, sid: uuid, role: z.string() })

const refused = (detail: string) => new ApiError('unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer error="invalid_token"' })

/**
 * The per-request check (one indexed read): the token's session exists, is neither revoked nor expired,
 * belongs to the token's user, and that user still has the token's role, so a revoked session or a
 * demoted administrator is refused from the next request on, not at the token's expiry. A token sent as
 * the session cookie must come with the session's CSRF token on unsafe methods; a request from another
 * origin must come from one the tenant allows.
 *
 * @example
 * const check = createSessionCheck(sql, () => new Date())
 * await check(claims, { viaCookie: false, csrfToken: null, unsafeMethod: false, crossOrigin: null })
 */
export function createSessionCheck(sql: Sql, clock: () => Date): SessionCheck {
  return async (claims, presented) => {
    const shape = CheckedClaims.safeParse(claims)
    if (!shape.success) throw refused('the token does not name a session')
    const row = await findSessionForCheck(sql, claims.tid, claims.sid, presented.crossOrigin)
    if (!row || row.user_id !== claims.sub) throw refused('the session does not exist')
    if (row.revoked_at !== null) throw refused('the session was revoked')
    if (row.expires_at <= clock()) throw refused('the session expired')
    if (row.current_role !== claims.role) throw refused("the user's role changed; log in again")
    if (presented.crossOrigin !== null && !row.origin_allowed) throw ApiError.from('origin_not_allowed', `${presented.crossOrigin} is not an allowed origin of this tenant`)
    if (presented.viaCookie && presented.unsafeMethod && !secretMatches(presented.csrfToken, row.csrf_hash)) {
      throw ApiError.from('csrf_failed', 'a request authenticated by the session cookie must send the X-CSRF-Token of its login')
    }
  }
}
