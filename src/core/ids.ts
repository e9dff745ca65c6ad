import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'

function formatUuid(bytes: Uint8Array): string {
  const h = bytesToHex(bytes)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/**
 * Random bytes for UUIDv7s, drawn from the runtime's CSPRNG a block at a time: one call per 512 ids
 * instead of one per id (a call costs several microseconds, each id of a login attempt paid it). Every
 * byte is used once; the block is refilled when spent.
 */
const RANDOM_BLOCK = new Uint8Array(512 * 10)
let randomOffset = RANDOM_BLOCK.length

/** Two hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** A time-ordered UUIDv7 (RFC 9562): keeps index inserts local and ids sortable by creation time. */
export function uuidv7(nowMs: number = Date.now()): string {
  if (randomOffset === RANDOM_BLOCK.length) {
    crypto.getRandomValues(RANDOM_BLOCK)
    randomOffset = 0
  }
  const r = RANDOM_BLOCK
  const o = randomOffset
  randomOffset += 10
  // 48 bits of milliseconds, then version 7 and 12 random bits, then variant 10 and 62 random bits.
  const ms = Math.floor(nowMs)
  const high = Math.floor(ms / 2 ** 16)
  const low = ms % 2 ** 16
  return (
    HEX[(high >>> 24) & 0xff]! + HEX[(high >>> 16) & 0xff]! + HEX[(high >>> 8) & 0xff]! + HEX[high & 0xff]! + '-' +
    HEX[(low >>> 8) & 0xff]! + HEX[low & 0xff]! + '-' +
    HEX[(r[o]! & 0x0f) | 0x70]! + HEX[r[o + 1]!]! + '-' +
    HEX[(r[o + 2]! & 0x3f) | 0x80]! + HEX[r[o + 3]!]! + '-' +
    HEX[r[o + 4]!]! + HEX[r[o + 5]!]! + HEX[r[o + 6]!]! + HEX[r[o + 7]!]! + HEX[r[o + 8]!]! + HEX[r[o + 9]!]!
  )
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
