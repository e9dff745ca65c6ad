import { describe, expect, it } from 'vitest'
import { frameOctetCounted } from '../../core/octet-framing.ts'
import { encodeFrames } from './stream-transport.ts'

const joined = (pieces: Uint8Array[]) => Buffer.concat(pieces).toString('utf8')

describe('encodeFrames', () => {
  it('gives the bytes of the octet-counted frames, with lengths in UTF-8 bytes', () => {
    const messages = ['<85>1 - - - - - - Jörg', 'ascii only', 'emoji 😀 and ünïcödé', 'lone \ud800 surrogate', '']
    const pieces = encodeFrames(messages, 256 * 1024)
    expect(pieces).toHaveLength(1)
    expect(joined(pieces)).toBe(messages.map(frameOctetCounted).join('').replace('\ud800', '\ufffd'))
    expect(Buffer.concat(pieces).subarray(0, 3).toString()).toBe('23 ')
  })

  it('cuts pieces at frame boundaries, each of at most maxBytes unless one frame is longer', () => {
    const messages = Array.from({ length: 50 }, (_, i) => `message ${i} ${'é'.repeat(i)}`)
    const pieces = encodeFrames(messages, 64)
    expect(joined(pieces)).toBe(messages.map(frameOctetCounted).join(''))
    // Every piece holds whole frames: reading lengths from its start lands exactly on its end.
    for (const piece of pieces) {
      const bytes = Buffer.from(piece)
      let at = 0
      let frames = 0
      while (at < bytes.length) {
        const space = bytes.indexOf(0x20, at)
        at = space + 1 + Number(bytes.subarray(at, space).toString())
        frames++
      }
      expect(at).toBe(bytes.length)
      expect(bytes.length <= 64 || frames === 1).toBe(true)
    }
    expect(pieces.length).toBeGreaterThan(10)
  })
})
