import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'

function formatUuid(bytes: Uint8Array): string {
  const h = bytesToHex(bytes)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** A time-ordered UUIDv7 (RFC 9562): keeps index inserts local and ids sortable by creation time. */
export function uuidv7(nowMs: number = Date.now()): string {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes)
  let ms = nowMs
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256
    ms = Math.floor(ms / 256)
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  return formatUuid(bytes)
}

/**
 * A deterministic UUIDv8 (RFC 9562) from SHA-256 of its parts: the same retried request always maps to
 * the same event id, so the insert's ON CONFLICT turns a retry into a no-op.
 */
export function deterministicUuid(...parts: string[]): string {
  const bytes = sha256(utf8ToBytes(parts.map((p) => `${p.length}:${p}`).join('|'))).slice(0, 16)
  bytes[6] = (bytes[6]! & 0x0f) | 0x80
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  return formatUuid(bytes)
}
