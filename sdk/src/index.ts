import createClient, { type Client } from 'openapi-fetch'
import type { components, paths } from './api.d.ts'

/**
 * The authtrail client SDK for browsers and React Native: the typed client generated from the OpenAPI
 * document (openapi-typescript types, openapi-fetch requests) with the session flow built in. It uses
 * only `fetch`, `Request`, `Response` and `crypto.randomUUID` (no Node built-ins) and never relies on
 * cookies: tokens live in a storage the app provides.
 */

export type { components, paths } from './api.d.ts'
export type Problem = components['schemas']['Problem']
export type CurrentSession = components['schemas']['CurrentSession']
type SessionAnswer = components['schemas']['Session']

/** A session as the SDK keeps it. */
export interface StoredSession {
  accessToken: string
  refreshToken: string
  /** When the access token expires (ms since the epoch, by the client's clock). */
  accessExpiresAt: number
  sessionId: string
}

/**
 * Where the app keeps the session: memory, `sessionStorage`, the Keychain / Keystore (React Native
 * secure storage), anything that can get and set one value. May be synchronous or asynchronous.
 */
export interface SessionStorage {
  get(): StoredSession | null | Promise<StoredSession | null>
  set(session: StoredSession | null): void | Promise<void>
}

/** A storage in memory: the session ends with the page or the app process. */
export function memoryStorage(): SessionStorage {
  let value: StoredSession | null = null
  return {
    get: () => value,
    set: (session) => {
      value = session
    },
  }
}

/** An answer that was a problem (RFC 9457): `problem.code` is the stable code to branch on. */
export class AuthtrailProblem extends Error {
  override name = 'AuthtrailProblem'
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail ?? problem.title}`)
  }
}

export interface AuthtrailOptions {
  baseUrl: string
  storage: SessionStorage
  /** A web app (`web`), or a mobile app with its stable device id (the session is bound to it). */
  platform: 'web' | { mobile: { deviceId: string } }
  fetch?: (request: Request) => Promise<Response>
  /** Refresh this long before the access token expires (default 60 s). */
  refreshLeewaySeconds?: number
  /** How many times a login is retried, with the same Idempotency-Key, after a network error or a 503 (default 2). */
  loginRetries?: number
  now?: () => number
}

export interface Credentials {
  tenant: string
  identifier: string
  password: string
}

export interface Authtrail {
  /** The typed client: every operation of the API, with the access token attached and refreshed. */
  client: Client<paths>
  logIn(credentials: Credentials): Promise<StoredSession>
  /** Rotates the refresh token now; the session is cleared when the server refuses it. */
  refresh(): Promise<StoredSession>
  /** Who am I: user, tenant, organisation, role, expiries. */
  session(): Promise<CurrentSession>
  logOut(scope?: 'session' | 'all'): Promise<void>
}

const AUTH_PATHS = /\/v1\/(mobile\/)?auth\/(login|refresh|register)$/

/**
 * Creates the SDK.
 *
 * @example
 * const authtrail = createAuthtrail({ baseUrl: 'https://auth.example.com', storage: memoryStorage(), platform: 'web' })
 * await authtrail.logIn({ tenant: 'acme', identifier: 'alice@example.com', password })
 * const { data } = await authtrail.client.GET('/v1/investigation/events', { params: { query: { limit: 10 } } })
 */
export function createAuthtrail(options: AuthtrailOptions): Authtrail {
  const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request))
  const now = options.now ?? (() => Date.now())
  const leewayMs = (options.refreshLeewaySeconds ?? 60) * 1000
  const mobile = options.platform === 'web' ? null : options.platform.mobile
  let refreshing: Promise<StoredSession> | null = null

  // Cookies are never sent nor kept: the bearer token is the credential.
  const raw = createClient<paths>({ baseUrl: options.baseUrl, fetch: (request) => baseFetch(new Request(request, { credentials: 'omit' })) })

  const store = async (answer: SessionAnswer): Promise<StoredSession> => {
    const session = {
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token,
      accessExpiresAt: now() + answer.expires_in * 1000,
      sessionId: answer.session_id,
    }
    await options.storage.set(session)
    return session
  }

  const refreshOnce = async (): Promise<StoredSession> => {
    const current = await options.storage.get()
    if (!current) throw new AuthtrailProblem({ type: 'about:blank', title: 'Not logged in', status: 401, code: 'unauthorized' } as Problem)
    const { data, error } = await raw.POST('/v1/auth/refresh', { body: { refresh_token: current.refreshToken, ...(mobile ? { device_id: mobile.deviceId } : {}) } })
    if (error) {
      // A refused refresh ends the session (rotated elsewhere, revoked, expired): the app must log in again.
      if (error.status === 401) await options.storage.set(null)
      throw new AuthtrailProblem(error)
    }
    return store(data)
  }

  /** One refresh at a time: concurrent callers share it (a second use of a rotated token would revoke the session). */
  const refresh = (): Promise<StoredSession> => {
    refreshing ??= refreshOnce().finally(() => {
      refreshing = null
    })
    return refreshing
  }

  const withToken = (request: Request, token: string) => {
    const headers = new Headers(request.headers)
    headers.set('authorization', `Bearer ${token}`)
    return new Request(request, { headers })
  }

  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    fetch: async (request) => {
      const plain = new Request(request, { credentials: 'omit' })
      if (AUTH_PATHS.test(new URL(plain.url).pathname)) return baseFetch(plain)
      let session = await options.storage.get()
      if (!session) return baseFetch(plain)
      if (session.accessExpiresAt - leewayMs <= now()) session = await refresh()
      const retry = plain.clone()
      const response = await baseFetch(withToken(plain, session.accessToken))
      if (response.status !== 401) return response
      // Once: the token may have been refused for its age or a server-side key change.
      const renewed = await refresh().catch(() => null)
      return renewed ? baseFetch(withToken(retry, renewed.accessToken)) : response
    },
  })

  const logIn = async (credentials: Credentials): Promise<StoredSession> => {
    const key = crypto.randomUUID()
    const attempts = (options.loginRetries ?? 2) + 1
    for (let attempt = 1; ; attempt++) {
      try {
        const params = { header: { 'idempotency-key': key } }
        const answer = mobile
          ? await raw.POST('/v1/mobile/auth/login', { params, body: { ...credentials, device_id: mobile.deviceId } })
          : await raw.POST('/v1/auth/login', { params, body: credentials })
        if (answer.error) {
          if (answer.error.status === 503 && attempt < attempts) continue
          throw new AuthtrailProblem(answer.error)
        }
        return store(answer.data)
      } catch (error) {
        // A network failure: the attempt may have been recorded; the same key makes the retry safe.
        if (error instanceof AuthtrailProblem || attempt >= attempts) throw error
      }
    }
  }

  return {
    client,
    logIn,
    refresh,
    session: async () => {
      const { data, error } = await client.GET('/v1/auth/session')
      if (error) throw new AuthtrailProblem(error)
      return data
    },
    logOut: async (scope = 'session') => {
      const { error } = await client.POST('/v1/auth/logout', { body: { scope } })
      await options.storage.set(null)
      if (error && error.status !== 401) throw new AuthtrailProblem(error)
    },
  }
}
