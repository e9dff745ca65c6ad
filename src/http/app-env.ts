import type { Context } from 'hono'
import type { SessionClaims } from '../auth/tokens.ts'
import type { SessionCheck } from '../auth/check-session.ts'

/** What createApp gives every request: the per-request session check and the name of the session cookie. */
export interface SessionGuard {
  check: SessionCheck
  cookieName: string
  trustProxy: boolean
}

/** Per-request values shared by middleware and handlers. */
export interface AppEnv {
  Variables: {
    requestId: string
    session: SessionClaims
    sessionGuard: SessionGuard
    /** Checks the request's session again, as it was checked on arrival: for long-lived responses (event streams). */
    recheckSession: () => Promise<void>
    /** The platform operator behind a /v1/platform request. */
    operator: { id: string; name: string }
  }
}

export type AppContext = Context<AppEnv>

/** How a runtime tells the peer address of a request (Node, Bun and Deno each implement it). */
export type ClientAddressResolver = (c: Context) => string | null
