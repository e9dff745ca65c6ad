import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { toBase64Url, type CheckpointSigner, type CheckpointVerifier, type SignatureProblem } from '../core/checkpoint.ts'

/**
 * Ed25519 checkpoint keys through WebCrypto, which Node, Bun, Deno and workerd all provide. The private
 * key comes from a PEM file or an environment variable and lives only in the service's memory; the
 * database sees signatures and public key ids, never the key.
 */

/** A public checkpoint key as GET /v1/audit/keys publishes it: a JWK (RFC 8037) with its id and status. */
export interface PublishedKey {
  kty: 'OKP'
  crv: 'Ed25519'
  /** The 32-byte public key, base64url. */
  x: string
  /** RFC 7638 thumbprint of the key. */
  kid: string
  use: 'sig'
  alg: 'EdDSA'
  /** `active` signs new checkpoints; `retired` was rotated out and still verifies what it signed. */
  status: 'active' | 'retired'
}

/** The signer and every key verification accepts. */
export interface CheckpointKeys {
  /** Null when no signing key is configured (tests): no periodic checkpoints, retention checkpoints unsigned. */
  signer: CheckpointSigner | null
  verifier: CheckpointVerifier
  published: PublishedKey[]
}

/** Raised for a key that cannot be used; the message names what is wrong, never the key material. */
export class CheckpointKeyError extends Error {
  override name = 'CheckpointKeyError'
}

const ED25519 = { name: 'Ed25519' } as const

/** RFC 7638: SHA-256 of the required members in lexicographic order, base64url. */
export function ed25519Thumbprint(x: string): string {
  return toBase64Url(sha256(utf8ToBytes(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`)))
}

function pemBody(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const text = pem.replace(/\\n/g, '\n')
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text)
  if (!match) throw new CheckpointKeyError(`not a PEM ${label}`)
  return Uint8Array.from(atob(match[1]!.replace(/\s+/g, '')), (c) => c.charCodeAt(0)) as Uint8Array<ArrayBuffer>
}

/**
 * A signer from an Ed25519 private key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519`). A literal
 * `\n` stands for a line break, so the key fits in one environment variable.
 *
 * @example
 * const { signer, publicKey } = await ed25519SignerFromPem(await readFile('checkpoint-key.pem', 'utf8'))
 */
export async function ed25519SignerFromPem(pem: string): Promise<{ signer: CheckpointSigner; publicKey: Omit<PublishedKey, 'status'> }> {
  let jwk: JsonWebKey
  let key: CryptoKey
  try {
    const der = pemBody(pem, 'PRIVATE KEY')
    const extractable = await crypto.subtle.importKey('pkcs8', der, ED25519, true, ['sign'])
    jwk = await crypto.subtle.exportKey('jwk', extractable)
    key = await crypto.subtle.importKey('pkcs8', der, ED25519, false, ['sign'])
  } catch (error) {
    if (error instanceof CheckpointKeyError) throw error
    throw new CheckpointKeyError('not an Ed25519 private key in PKCS#8 PEM')
  }
  const x = jwk.x!
  const kid = ed25519Thumbprint(x)
  return {
    signer: { keyId: kid, sign: async (message) => new Uint8Array(await crypto.subtle.sign(ED25519, key, message as BufferSource)) },
    publicKey: { kty: 'OKP', crv: 'Ed25519', x, kid, use: 'sig', alg: 'EdDSA' },
  }
}

/** A fresh Ed25519 private key in PKCS#8 PEM: the development key, and tests'. */
export async function generateEd25519Pem(): Promise<string> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair
  const der = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey))
  let binary = ''
  for (const b of der) binary += String.fromCharCode(b)
  return `-----BEGIN PRIVATE KEY-----\n${btoa(binary)}\n-----END PRIVATE KEY-----\n`
}

/** Reads the public keys of a JWKS document (`{ "keys": [...] }`), as GET /v1/audit/keys serves it; other keys are refused. */
export function parsePublishedKeys(json: string): Omit<PublishedKey, 'status'>[] {
  let doc: unknown
  try {
    doc = JSON.parse(json)
  } catch {
    throw new CheckpointKeyError('not JSON')
  }
  const keys = (doc as { keys?: unknown }).keys
  if (!Array.isArray(keys)) throw new CheckpointKeyError('not a JWKS document (no "keys" array)')
  return keys.map((k: Record<string, unknown>, i) => {
    if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(k.x)) {
      throw new CheckpointKeyError(`keys[${i}] is not an Ed25519 public key`)
    }
    const kid = ed25519Thumbprint(k.x)
    if (k.kid !== undefined && k.kid !== kid) throw new CheckpointKeyError(`keys[${i}].kid is not the key's RFC 7638 thumbprint`)
    return { kty: 'OKP', crv: 'Ed25519', x: k.x, kid, use: 'sig', alg: 'EdDSA' }
  })
}

/** A verifier accepting signatures of exactly these public keys. */
export async function createCheckpointVerifier(keys: readonly Pick<PublishedKey, 'x' | 'kid'>[]): Promise<CheckpointVerifier> {
  const byId = new Map<string, CryptoKey>()
  for (const k of keys) {
    byId.set(k.kid, await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: k.x }, ED25519, false, ['verify']))
  }
  return {
    keyIds: [...byId.keys()],
    async verify(keyId, message, signature): Promise<SignatureProblem | null> {
      const key = byId.get(keyId)
      if (!key) return 'unknown_key'
      return (await crypto.subtle.verify(ED25519, key, signature as BufferSource, message as BufferSource)) ? null : 'bad_signature'
    },
  }
}

/**
 * The checkpoint keys from their configuration: the signing key's PEM (or none) and the JWKS text of
 * earlier keys kept for verification after a rotation (or none).
 *
 * @example
 * const keys = await loadCheckpointKeys({ signingKeyPem: env.CHECKPOINT_SIGNING_KEY ?? null, retiredKeysJwks: null })
 */
export async function loadCheckpointKeys(source: { signingKeyPem: string | null; retiredKeysJwks: string | null }): Promise<CheckpointKeys> {
  const active = source.signingKeyPem === null ? null : await ed25519SignerFromPem(source.signingKeyPem)
  const retired = source.retiredKeysJwks === null ? [] : parsePublishedKeys(source.retiredKeysJwks)
  const published: PublishedKey[] = []
  if (active) published.push({ ...active.publicKey, status: 'active' })
  for (const k of retired) if (!published.some((p) => p.kid === k.kid)) published.push({ ...k, status: 'retired' })
  return { signer: active?.signer ?? null, verifier: await createCheckpointVerifier(published), published }
}
