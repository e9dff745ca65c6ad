import { sign, verify } from 'hono/jwt'
import type { Role } from '../core/tenancy.ts'

/** The only algorithm accepted (RFC 7519, RFC 8725 §3.1: pin it, never read it from the token). */
export const JWT_ALGORITHM = 'HS256' as const

export interface SessionClaims {
  sub: string
  tid: string
  org: string
  role: Role
  jti: string
  iat: number
  exp: number
  iss: string
}

export interface TokenService {
  readonly issuer: string
  issue(claims: Omit<SessionClaims, 'iss'>): Promise<string>
  /** Throws on a bad signature, a different algorithm, an expired token or a wrong issuer. */
  verify(token: string): Promise<SessionClaims>
}

/** Signs and verifies session JWTs with `hono/jwt`, algorithm pinned to HS256. */
export function createTokenService(secret: string, issuer: string): TokenService {
  return {
    issuer,
    issue: (claims) => sign({ ...claims, iss: issuer }, secret, JWT_ALGORITHM),
    verify: async (token) => {
      const payload = await verify(token, secret, { alg: JWT_ALGORITHM, iss: issuer })
      return payload as unknown as SessionClaims
    },
  }
}
