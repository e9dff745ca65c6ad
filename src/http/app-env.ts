import type { Context } from 'hono'
import type { SessionClaims } from '../auth/tokens.ts'

/** Per-request values shared by middleware and handlers. */
export interface AppEnv {
  Variables: {
    requestId: string
    session: SessionClaims
  }
}

export type AppContext = Context<AppEnv>

/** How a runtime tells the peer address of a request (Node, Bun and Deno each implement it). */
export type ClientAddressResolver = (c: Context) => string | null
