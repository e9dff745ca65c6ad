import createClient, { type Middleware } from 'openapi-fetch'
import type { components, paths } from '../../../openapi/authtrail-api.d.ts'

export type Schemas = components['schemas']
export type Overview = Schemas['TenantOverview']
export type IncidentReport = Schemas['IncidentReport']
export type InvestigatedEvent = Schemas['InvestigatedEvent']
export type Problem = Schemas['Problem']

/** What the console knows of its signed-in user, read from the token the login returned. */
export interface Session {
  token: string
  /** Spent by its first use: each refresh returns the next one (RFC 9700 rotation). */
  refreshToken: string
  tenant: string
  identifier: string
  role: 'admin' | 'auditor' | 'user'
  organisationId: string
  /** Seconds since the epoch. */
  expiresAt: number
}

/**
 * The bearer and refresh tokens live in this module only: never in localStorage, sessionStorage or a cookie
 * the page can read, so a reload signs out.
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

export function setSession(session: Session | null): void {
  current = session
  for (const listener of listeners) listener(session)
}

/** The claims of a JWT, read without verifying it: the server verifies every request; the page only adapts. */
function claimsOf(token: string): { role: Session['role']; org: string; exp: number } {
  const payload = token.split('.')[1] ?? ''
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='))
  return JSON.parse(json)
}

const authorize: Middleware = {
  onRequest({ request }) {
    if (current) request.headers.set('authorization', `Bearer ${current.token}`)
    return request
  },
  onResponse({ response }) {
    // An expired or revoked token: back to the sign-in.
    if (response.status === 401 && current) setSession(null)
    return response
  },
}

/** The typed client of the public API (types generated from openapi/openapi.json). */
export const api = createClient<paths>({ baseUrl: location.origin })
api.use(authorize)

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
  throw new ProblemError({ type: 'about:blank', title: problem.title ?? `HTTP ${result.response.status}`, status: result.response.status, code: problem.code ?? 'unknown', ...problem })
}

/** Signs in through the product's own web login; refuses a token whose role cannot read the trail. */
export async function signIn(tenant: string, identifier: string, password: string): Promise<Session> {
  const session = ok(await api.POST('/v1/auth/login', { body: { tenant, identifier, password } }))
  const claims = claimsOf(session.access_token)
  const signedIn: Session = {
    token: session.access_token,
    refreshToken: session.refresh_token,
    tenant,
    identifier,
    role: claims.role,
    organisationId: claims.org,
    expiresAt: claims.exp,
  }
  if (signedIn.role !== 'admin' && signedIn.role !== 'auditor') {
    throw new ProblemError({ type: 'about:blank', title: 'No console access', status: 403, code: 'forbidden', detail: 'This account has neither the auditor nor the admin role.' })
  }
  setSession(signedIn)
  return signedIn
}

/**
 * Rotates the session's refresh token for a new access token (POST /v1/auth/refresh) before the current
 * one expires. A refused refresh (revoked, reused, expired session) signs out.
 */
export async function refreshSession(): Promise<void> {
  const before = current
  if (!before) return
  const result = await api.POST('/v1/auth/refresh', { body: { refresh_token: before.refreshToken } })
  if (current !== before) return
  if (!result.data) return setSession(null)
  const claims = claimsOf(result.data.access_token)
  setSession({ ...before, token: result.data.access_token, refreshToken: result.data.refresh_token, role: claims.role, expiresAt: claims.exp })
}

/** Ends the session on the server (POST /v1/auth/logout, audited), then forgets it here whatever the answer. */
export async function signOut(): Promise<void> {
  if (current) await api.POST('/v1/auth/logout', { body: { scope: 'session' } }).catch(() => undefined)
  setSession(null)
}
