import { describe, expect, it } from 'vitest'
import { normalizeIdentifier, shardFor } from './identifier.ts'

describe('normalizeIdentifier', () => {
  it('makes the spellings of one login the same identifier: case, surrounding space, compatibility forms', () => {
    for (const spelling of ['Alice@Example.COM', '  alice@example.com\t', 'ＡＬＩＣＥ＠ｅｘａｍｐｌｅ．ｃｏｍ', '\u00a0alice@example.com\u3000']) {
      expect(normalizeIdentifier(spelling), spelling).toBe('alice@example.com')
    }
  })

  it('composes canonically equivalent forms (NFKC)', () => {
    expect(normalizeIdentifier('Jo\u0308rg')).toBe('j\u00f6rg')
    expect(normalizeIdentifier('ﬁona')).toBe('fiona')
  })

  it('replaces lone surrogates so the result can be hashed and stored', () => {
    expect(normalizeIdentifier('a\ud800B')).toBe('a\ufffdb')
    expect(normalizeIdentifier('\udc00')).toBe('\ufffd')
    expect(normalizeIdentifier('a\ud83d\ude00')).toBe('a\ud83d\ude00')
  })

  it('keeps the inside of an identifier as it is', () => {
    expect(normalizeIdentifier('first last')).toBe('first last')
    expect(normalizeIdentifier('')).toBe('')
  })
})

describe('shardFor', () => {
  it('puts an identifier in the same shard across releases (events already chained stay where they are)', () => {
    // Pinned: SHA-256 of the identifier, first two bytes big-endian, modulo the shard count.
    expect(shardFor('alice@example.com', 16)).toBe(13)
    expect(shardFor('bob@example.com', 16)).toBe(8)
    expect(shardFor('alice@example.com', 1000)).toBe(421)
    expect(shardFor('bob@example.com', 1000)).toBe(568)
  })

  it('stays within [0, shards) and with one shard is always 0', () => {
    for (let i = 0; i < 200; i++) {
      const s = shardFor(`user${i}@example.com`, 7)
      expect(Number.isInteger(s) && s >= 0 && s < 7).toBe(true)
      expect(shardFor(`user${i}@example.com`, 1)).toBe(0)
    }
  })

  it('spreads accounts over every shard of a tenant', () => {
    const counts = new Array<number>(16).fill(0)
    for (let i = 0; i < 1600; i++) counts[shardFor(`user${i}@example.com`, 16)]!++
    // 100 expected per shard; a fair hash stays well inside 50–150.
    for (const count of counts) expect(count).toBeGreaterThan(50)
    for (const count of counts) expect(count).toBeLessThan(150)
  })
})
