import { utf8ToBytes } from '@noble/hashes/utils.js'
import { canonicalJson } from './canonical-json.ts'

/**
 * Signed checkpoints of the hash chains, in the manner of Certificate Transparency's signed tree heads:
 * a statement, signed with a key the database never sees, that chain (tenant, shard) had `chainHash` at
 * `seq` when it was signed. Copies leave PostgreSQL through the outbox (document store, SIEM), so that
 * whoever can rewrite the tables cannot rewrite every copy, nor sign a new one. Pure: no I/O; signing and
 * verifying are behind the interfaces below.
 */

/** One signed checkpoint. Hashes in lower-case hex, the signature in base64url, the time as toISOString writes it. */
export interface SignedCheckpoint {
  tenantId: string
  shard: number
  seq: number
  chainHash: string
  signedAt: string
  keyId: string
  signature: string
}

/** A checkpoint before it is signed. */
export type CheckpointStatement = Omit<SignedCheckpoint, 'signature'>

/** Signs checkpoint statements. Ed25519 from a file or an environment variable today; a KMS can implement it later. */
export interface CheckpointSigner {
  /** The id of the signing key, as published by GET /v1/audit/keys (its RFC 7638 thumbprint). */
  readonly keyId: string
  sign(message: Uint8Array): Promise<Uint8Array>
}

/** Why a checkpoint's signature is not accepted. */
export type SignatureProblem = 'unknown_key' | 'bad_signature'

/** Checks signatures against the published keys (the current signing key and earlier ones kept after a rotation). */
export interface CheckpointVerifier {
  /** The key ids it accepts. */
  readonly keyIds: readonly string[]
  verify(keyId: string, message: Uint8Array, signature: Uint8Array): Promise<SignatureProblem | null>
}

/** Which copy of a checkpoint a verification compared the chain with. */
export const ANCHORS = ['postgresql', 'docstore', 'siem'] as const
export type Anchor = (typeof ANCHORS)[number]

/**
 * The bytes a checkpoint signature covers: a versioned label and every field but the signature, in
 * canonical JSON (RFC 8785). The key id is covered too, so a signature cannot be passed off under another key.
 */
export function checkpointSigningInput(statement: CheckpointStatement): Uint8Array {
  return utf8ToBytes(
    canonicalJson({
      v: 'authtrail/checkpoint/v2',
      tenant_id: statement.tenantId,
      shard: statement.shard,
      seq: statement.seq,
      chain_hash: statement.chainHash,
      signed_at: statement.signedAt,
      key_id: statement.keyId,
    }),
  )
}

/**
 * Signs a statement with `signer`: the signer's key id goes into the statement, and so under the signature.
 *
 * @example
 * const cp = await signCheckpoint(signer, { tenantId, shard: 0, seq: 42, chainHash, signedAt: now.toISOString() })
 */
export async function signCheckpoint(signer: CheckpointSigner, statement: Omit<CheckpointStatement, 'keyId'>): Promise<SignedCheckpoint> {
  const full: CheckpointStatement = { ...statement, keyId: signer.keyId }
  const signature = await signer.sign(checkpointSigningInput(full))
  return { ...full, signature: toBase64Url(signature) }
}

/** Whether a checkpoint's signature verifies under one of the accepted keys; null when it does. */
export async function checkpointSignatureProblem(verifier: CheckpointVerifier, cp: SignedCheckpoint): Promise<SignatureProblem | null> {
  const signature = fromBase64Url(cp.signature)
  if (signature === null) return 'bad_signature'
  return verifier.verify(cp.keyId, checkpointSigningInput(cp), signature)
}

const TOKEN_PREFIX = 'atcp1'
const TOKEN_PART = /^[A-Za-z0-9_-]+$/
const HEX_64 = /^[0-9a-f]{64}$/

/**
 * A checkpoint as one CEF extension value: `atcp1.<tenant>.<shard>.<seq>.<chain hash>.<signed at, epoch ms>.<key id>.<signature>`.
 * Only letters, digits, `-`, `_` and `.`: nothing a CEF or syslog parser escapes or splits on, so a SIEM
 * keeps it byte for byte and {@link parseCheckpointToken} reads it back from a received line.
 */
export function formatCheckpointToken(cp: SignedCheckpoint): string {
  return [TOKEN_PREFIX, cp.tenantId, cp.shard, cp.seq, cp.chainHash, Date.parse(cp.signedAt), cp.keyId, cp.signature].join('.')
}

/** Reads a token written by {@link formatCheckpointToken}; null for anything else. */
export function parseCheckpointToken(token: string): SignedCheckpoint | null {
  const parts = token.split('.')
  if (parts.length !== 8 || parts[0] !== TOKEN_PREFIX) return null
  const [, tenantId, shard, seq, chainHash, signedAtMs, keyId, signature] = parts as [string, string, string, string, string, string, string, string]
  if (!/^\d{1,5}$/.test(shard) || !/^\d{1,15}$/.test(seq) || !/^\d{1,15}$/.test(signedAtMs)) return null
  if (!HEX_64.test(chainHash) || !TOKEN_PART.test(tenantId) || !TOKEN_PART.test(keyId) || !TOKEN_PART.test(signature)) return null
  return {
    tenantId,
    shard: Number(shard),
    seq: Number(seq),
    chainHash,
    signedAt: new Date(Number(signedAtMs)).toISOString(),
    keyId,
    signature,
  }
}

/**
 * The checkpoint tokens in lines of a SIEM's received CEF (one syslog message or CEF record per line),
 * from the extension key `flexString1` of `chain_checkpoint` events. Lines that carry none are skipped.
 */
export function checkpointsInCefLines(lines: Iterable<string>): SignedCheckpoint[] {
  const found: SignedCheckpoint[] = []
  for (const line of lines) {
    if (!line.includes('act=chain_checkpoint')) continue
    const match = /(?:^|[\s|])flexString1=(atcp1\.[A-Za-z0-9_.-]+)/.exec(line)
    const cp = match ? parseCheckpointToken(match[1]!) : null
    if (cp) found.push(cp)
  }
  return found
}

/** When a chain is due for a new checkpoint: every `everyEvents` events, and at most `intervalMs` after an event. */
export interface CheckpointPolicy {
  intervalMs: number
  everyEvents: number
}

/**
 * Whether a chain whose head is at `headSeq` needs a checkpoint now, given its newest one (none yet:
 * null). The checkpoint event itself takes one sequence number after the position it signs, so a chain
 * whose only news is its last checkpoint event is not due again: a quiet chain stays quiet.
 */
export function checkpointDue(headSeq: number, newest: { seq: number; signedAt: Date } | null, now: Date, policy: CheckpointPolicy): boolean {
  const lastEventCovered = newest === null ? 0 : newest.seq + 1
  const pending = headSeq - lastEventCovered
  if (pending <= 0) return false
  if (pending >= policy.everyEvents) return true
  return newest === null || now.getTime() - newest.signedAt.getTime() >= policy.intervalMs
}

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Decodes base64url without padding; null when it is not. */
export function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}
