import { describe, expect, it, vi } from 'vitest'
import { deterministicUuid, uuidv7 } from './ids.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID whose first 48 bits are the creation time in milliseconds', () => {
    const id = uuidv7(0x0123_4567_89ab)
    expect(id).toMatch(UUID)
    expect(id.slice(0, 13)).toBe('01234567-89ab')
    expect(id[14]).toBe('7')
    expect(['8', '9', 'a', 'b']).toContain(id[19])
    expect(uuidv7(0).slice(0, 13)).toBe('00000000-0000')
    expect(uuidv7(2 ** 48 - 1).slice(0, 13)).toBe('ffffffff-ffff')
  })

  it('sorts by creation time, and two ids of the same millisecond still differ', () => {
    const times = [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_255, 1_700_000_000_256, 1_800_000_000_000]
    const ids = times.map((t) => uuidv7(t))
    expect([...ids].sort()).toEqual(ids)
    const sameMs = new Set(Array.from({ length: 50 }, () => uuidv7(1_700_000_000_000)))
    expect(sameMs.size).toBe(50)
  })

  it('keeps the version and variant bits whatever the random bytes are', () => {
    for (let i = 0; i < 200; i++) {
      const id = uuidv7(1_700_000_000_000)
      expect(id[14]).toBe('7')
      expect(['8', '9', 'a', 'b']).toContain(id[19])
    }
  })

  it('never repeats its random bits, across the blocks of random bytes it draws', () => {
    // 5,000 ids span several of the blocks uuidv7 draws its random bytes in; each id's 74 random bits are its own.
    const ids = Array.from({ length: 5_000 }, () => uuidv7(1_700_000_000_000))
    expect(new Set(ids).size).toBe(ids.length)
    const randomBits = new Set(ids.map((id) => id.slice(15)))
    expect(randomBits.size).toBe(ids.length)
  })

  it('gives the first id a process makes random bits too, not those of a block not yet drawn', async () => {
    vi.resetModules()
    const fresh = (await import('./ids.ts')).uuidv7
    // Its last group is 48 of its random bits: all zero by chance once in 2^48 processes.
    expect(fresh(1_700_000_000_000).slice(24)).not.toBe('000000000000')
  })

  it('defaults to the current time', () => {
    const before = Date.now()
    const id = uuidv7()
    const after = Date.now()
    const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
    expect(ms).toBeGreaterThanOrEqual(before)
    expect(ms).toBeLessThanOrEqual(after)
  })
})

describe('deterministicUuid', () => {
  it('maps the same parts to the same version 8 UUID, across calls and across releases', () => {
    // Pinned: a retried request must map to the id its first attempt recorded, also after an upgrade.
    expect(deterministicUuid('tenant-a', 'request-1')).toBe('212a0ed3-246e-85d0-be6b-7fadce18f219')
    expect(deterministicUuid('tenant-a', 'request-1')).toBe(deterministicUuid('tenant-a', 'request-1'))
    expect(deterministicUuid('a')).toBe('4162fddd-39a3-8422-9e8e-2392eced237f')
  })

  it('keeps parts apart: moving a boundary or reordering parts gives another id', () => {
    const ids = [
      deterministicUuid('ab', 'c'),
      deterministicUuid('a', 'bc'),
      deterministicUuid('abc'),
      deterministicUuid('c', 'ab'),
      deterministicUuid('a|b', 'c'),
      deterministicUuid('a', 'b|c'),
      deterministicUuid('1:a', ''),
      deterministicUuid(''),
      deterministicUuid(),
    ]
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) {
      expect(id).toMatch(UUID)
      expect(id[14]).toBe('8')
      expect(['8', '9', 'a', 'b']).toContain(id[19])
    }
  })
})
