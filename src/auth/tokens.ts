import { sign, verify, verifyWithJwks } from 'hono/jwt'
import { z } from 'zod'
import { toBase64Url } from '../core/checkpoint.ts'
import { ROLES, type Role } from '../core/tenancy.ts'

/**
 * The algorithm access tokens are signed with: EdDSA (Ed25519) by default, so that any service can check a
 * token with the public keys of the JWKS and none holds a signing secret; HS256 only as an explicit
 * development option. Either way the algorithm is pinned: never read from the token (RFC 8725 §3.1).
 */
export type JwtAlgorithm = 'EdDSA' | 'HS256'

export interface SessionClaims {
  sub: string
  tid: string
  org: string
  role: Role
  jti: string
  /** The session (refresh-token family) the token belongs to: checked per request, revoked as a whole. */
  sid: string
  /** The mobile device the session is bound to, when it has one. */
  did?: string
  /** SHA-256 (base64url) of the session's CSRF token: required beside a session cookie on unsafe methods. */
  csrf?: string
  iat: number
  exp: number
  iss: string
}

/**
 * What a session token must carry, whoever signed it: a token that verifies but lacks a claim (no `exp`
 * would never expire; no `sub` would act as nobody; a `tid` that is no UUID would reach SQL) is refused.
 */
export const SessionClaimsSchema = z.object({
  sub: z.guid(),
  tid: z.guid(),
  org: z.guid(),
  role: z.enum(ROLES),
  jti: z.string().min(1).max(128),
  sid: z.string().min(1).max(128),
  did: z.string().min(1).max(256).optional(),
  csrf: z.string().min(1).max(128).optional(),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
  iss: z.string().min(1),
}) satisfies z.ZodType<SessionClaims>

/** Raised when a correctly signed token lacks a claim the service relies on. */
export class InvalidClaimsError extends Error {
  override name = 'InvalidClaimsError'
}

/** The claims of a verified token, checked against SessionClaimsSchema. */
function sessionClaims(payload: unknown): SessionClaims {
  const claims = SessionClaimsSchema.safeParse(payload)
  if (!claims.success) throw new InvalidClaimsError(`token claims invalid: ${claims.error.issues.map((i) => i.path.join('.')).join(', ')}`)
  return claims.data
}

/** A public Ed25519 key as the JWKS publishes it. */
export interface PublicJwk {
  kty: 'OKP'
  crv: 'Ed25519'
  x: string
  kid: string
  alg: 'EdDSA'
  use: 'sig'
}

/** An Ed25519 private key (JWK with `d`) and its key id. */
export interface PrivateJwk extends Omit<PublicJwk, 'use'> {
  d: string
  use?: 'sig'
}

/**
 * The keys of EdDSA signing: one signs; the others (keys being introduced, or retired but still within an
 * access token's lifetime) only verify. Rotation without downtime: publish the next key as a verifying
 * key on every instance, then make it the signing key, then drop the old one after one token lifetime.
 */
export interface EdDsaKeys {
  signing: PrivateJwk
  verifying?: readonly PublicJwk[]
}

export interface TokenService {
  readonly issuer: string
  readonly algorithm: JwtAlgorithm
  issue(claims: Omit<SessionClaims, 'iss'>): Promise<string>
  /** Throws on a bad signature, a different algorithm, an unknown key id, an expired token or a wrong issuer. */
  verify(token: string): Promise<SessionClaims>
  /** The public keys tokens may be signed with (RFC 7517); empty under HS256, whose key is secret. */
  jwks(): { keys: PublicJwk[] }
}

/** The public half of an Ed25519 private JWK. */
export function publicJwkOf(key: PrivateJwk | PublicJwk): PublicJwk {
  return { kty: 'OKP', crv: 'Ed25519', x: key.x, kid: key.kid, alg: 'EdDSA', use: 'sig' }
}

/**
 * Signs and verifies access tokens with `hono/jwt`. Given Ed25519 keys, EdDSA with the key id in the
 * header, checked against the known keys only; given a string, HS256 with that secret (development).
 *
 * @example
 * const tokens = createTokenService({ signing: await generateSigningKey('2026-12') }, 'authtrail')
 */
export function createTokenService(keys: EdDsaKeys | string, issuer: string): TokenService {
  if (typeof keys === 'string') {
    const secret = keys
    return {
      issuer,
      algorithm: 'HS256',
      issue: (claims) => sign({ ...claims, iss: issuer }, secret, 'HS256'),
      verify: async (token) => sessionClaims(await verify(token, secret, { alg: 'HS256', iss: issuer })),
      jwks: () => ({ keys: [] }),
    }
  }
  const signing = { ...keys.signing, alg: 'EdDSA' as const }
  const published = [publicJwkOf(signing), ...(keys.verifying ?? []).filter((k) => k.kid !== signing.kid).map(publicJwkOf)]
  const signer = createEdDsaSigner(signing)
  return {
    issuer,
    algorithm: 'EdDSA',
    issue: (claims) => signer({ ...claims, iss: issuer }),
    verify: async (token) => sessionClaims(await verifyWithJwks(token, { keys: published, allowedAlgorithms: ['EdDSA'], verification: { iss: issuer } })),
    jwks: () => ({ keys: published }),
  }
}

const utf8 = new TextEncoder()

/**
 * Signs JWTs with an Ed25519 key, as hono/jwt's `sign` does given the private JWK (the same header
 * `{"alg":"EdDSA","typ":"JWT","kid":…}`, the same bytes: Ed25519 signatures are deterministic), but with
 * the key imported once: `sign` imports the JWK into WebCrypto on every call, which cost a successful
 * login more CPU than signing itself.
 */
function createEdDsaSigner(key: PrivateJwk & { alg: 'EdDSA' }): (payload: SessionClaims) => Promise<string> {
  let imported: Promise<CryptoKey> | null = null
  const header = toBase64Url(utf8.encode(JSON.stringify({ alg: key.alg, typ: 'JWT', kid: key.kid })))
  return async (payload) => {
    imported ??= crypto.subtle.importKey('jwk', key, { name: 'Ed25519' }, false, ['sign'])
    const partial = `${header}.${toBase64Url(utf8.encode(JSON.stringify(payload)))}`
    const signature = await crypto.subtle.sign({ name: 'Ed25519' }, await imported, utf8.encode(partial))
    return `${partial}.${toBase64Url(new Uint8Array(signature))}`
  }
}

/**
 * A new Ed25519 signing key as a private JWK (WebCrypto: every runtime has it).
 *
 * @example
 * const key = await generateSigningKey(`authtrail-${new Date().toISOString().slice(0, 10)}`)
 */
export async function generateSigningKey(kid: string): Promise<PrivateJwk> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey)
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x!, d: jwk.d!, kid, alg: 'EdDSA' }
}
