import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'

/** Two hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** 16 bytes as a UUID's text: 8-4-4-4-12 lowercase hex digits. */
function formatUuid(bytes: Uint8Array): string {
  let text = ''
  for (let i = 0; i < 16; i++) text += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + HEX[bytes[i]!]!
  return text
}

/**
 * Random bytes for UUIDv7s, drawn from the runtime's CSPRNG a block at a time: one call per 512 ids
 * instead of one per id (a call costs several microseconds, each id of a login attempt paid it). Every
 * byte is used once; the block is refilled when spent.
 */
const RANDOM_BLOCK = new Uint8Array(512 * 10)
let randomOffset = RANDOM_BLOCK.length

/** A time-ordered UUIDv7 (RFC 9562): keeps index inserts local and ids sortable by creation time. */
export function uuidv7(nowMs: number = Date.now()): string {
  if (randomOffset === RANDOM_BLOCK.length) {
    crypto.getRandomValues(RANDOM_BLOCK)
    randomOffset = 0
  }
  // 48 bits of milliseconds, then version 7 and 12 random bits, then variant 10 and 62 random bits.
  const bytes = new Uint8Array(16)
  bytes.set(RANDOM_BLOCK.subarray(randomOffset, randomOffset + 10), 6)
  randomOffset += 10
  let ms = Math.floor(nowMs)
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
