import type { Middleware } from 'openapi-fetch'
import { AuthtrailProblem, createAuthtrail, type components, type SessionStorage, type StoredSession } from '../../../sdk/src/index.ts'

export type Schemas = components['schemas']
export type Overview = Schemas['TenantOverview']
export type IncidentReport = Schemas['IncidentReport']
export type InvestigatedEvent = Schemas['InvestigatedEvent']
export type Problem = Schemas['Problem']

/** What the console knows of its signed-in user, read from the token the login returned. */
export interface Session {
  token: string
  tenant: string
  identifier: string
  role: 'admin' | 'auditor' | 'user'
  organisationId: string
  /** Seconds since the epoch. */
  expiresAt: number
}

/**
 * The session lives in this module only, in the SDK's storage: never in localStorage, sessionStorage or a
 * cookie the page can read, so a reload signs out. The SDK logs in, attaches the token, refreshes it
 * (rotating the refresh token) before it expires and once on a 401, and logs out; this module only turns
 * what it stores into what the views show.
 */
let current: Session | null = null
const listeners = new Set<(session: Session | null) => void>()

export function currentSession(): Session | null {
  return current
}

export function onSessionChange(listener: (session: Session | null) => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

function setSession(session: Session | null): void {
  current = session
  for (const listener of listeners) listener(session)
}

/** The claims of a JWT, read without verifying it: the server verifies every request; the page only adapts. */
function claimsOf(token: string): { role: Session['role']; org: string; exp: number } {
  const payload = token.split('.')[1] ?? ''
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='))
  return JSON.parse(json)
}

let stored: StoredSession | null = null

function sessionOf(next: StoredSession, who: { tenant: string; identifier: string }): Session {
  const claims = claimsOf(next.accessToken)
  return { token: next.accessToken, tenant: who.tenant, identifier: who.identifier, role: claims.role, organisationId: claims.org, expiresAt: claims.exp }
}

/**
 * The SDK's storage. A refresh of an admitted session reaches the views at once (the stream follows the new
 * token); a cleared one (logout, refused refresh) signs out. A new login is shown only once signIn admits its role.
 */
const storage: SessionStorage = {
  get: () => stored,
  set: (next) => {
    stored = next
    if (!next) return setSession(null)
    if (current) setSession(sessionOf(next, current))
  },
}

const authtrail = createAuthtrail({ baseUrl: location.origin, storage, platform: 'web' })

const signOutOnRefusal: Middleware = {
  onResponse({ response }) {
    // Refused even after the SDK's one refresh (revoked, expired session): back to the sign-in.
    if (response.status === 401 && current) void storage.set(null)
    return response
  },
}

/** The typed client of the public API (the SDK's: types generated from openapi/openapi.json, token attached). */
export const api = authtrail.client
api.use(signOutOnRefusal)

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title)
    this.name = 'ProblemError'
  }
}

/** Unwraps an openapi-fetch answer: the data, or a ProblemError. */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined) return result.data
  const problem = (result.error ?? {}) as Partial<Problem>
  throw new ProblemError({ type: 'about:blank', title: problem.title ?? `HTTP ${result.response.status}`, status: result.response.status, code: problem.code ?? 'internal_error', ...problem })
}

/** Signs in through the product's own web login (the SDK's); refuses a token whose role cannot read the trail. */
export async function signIn(tenant: string, identifier: string, password: string): Promise<Session> {
  try {
    await authtrail.logIn({ tenant, identifier, password })
  } catch (error) {
    throw error instanceof AuthtrailProblem ? new ProblemError(error.problem) : error
  }
  const signedIn = sessionOf(stored!, { tenant, identifier })
  if (signedIn.role !== 'admin' && signedIn.role !== 'auditor') {
    // The session just opened must not stay open: end it on the server too.
    await authtrail.logOut().catch(() => storage.set(null))
    throw new ProblemError({ type: 'about:blank', title: 'No console access', status: 403, code: 'forbidden', detail: 'This account has neither the auditor nor the admin role.' })
  }
  setSession(signedIn)
  return signedIn
}

/**
 * Rotates the session's refresh token for a new access token (POST /v1/auth/refresh, through the SDK)
 * before the current one expires. A refused refresh (revoked, reused, expired session) signs out.
 */
export async function refreshSession(): Promise<void> {
  if (!stored) return
  await authtrail.refresh().catch(() => storage.set(null))
}

/** Ends the session on the server (POST /v1/auth/logout, audited), then forgets it here whatever the answer. */
export async function signOut(): Promise<void> {
  if (stored) await authtrail.logOut().catch(() => storage.set(null))
}
