import { describe, expect, it } from 'vitest'
import { wellFormed, wellFormedJson, wellFormedOrNull } from './well-formed.ts'

describe('wellFormed', () => {
  it('replaces each lone surrogate with U+FFFD and leaves pairs and other text alone', () => {
    expect(wellFormed('a\ud800b')).toBe('a\ufffdb')
    expect(wellFormed('\udfff\ud800')).toBe('\ufffd\ufffd')
    expect(wellFormed('\ud800\udc00')).toBe('\ud800\udc00')
    expect(wellFormed('Jörg ✓ 😀')).toBe('Jörg ✓ 😀')
    expect(wellFormed('')).toBe('')
  })

  it('replaces every NUL (which PostgreSQL text refuses) with U+FFFD, lone surrogates with it too', () => {
    expect(wellFormed('a\u0000b\u0000')).toBe('a\ufffdb\ufffd')
    expect(wellFormed('\u0000\ud800')).toBe('\ufffd\ufffd')
    expect(wellFormed('no nul here')).toBe('no nul here')
  })

  it('gives text that UTF-8 encodes and decodes unchanged', () => {
    const s = wellFormed('x\ud83dy\ude00z')
    expect(new TextDecoder().decode(new TextEncoder().encode(s))).toBe(s)
    expect(s.isWellFormed()).toBe(true)
  })
})

describe('wellFormedOrNull', () => {
  it('keeps null and makes strings well-formed', () => {
    expect(wellFormedOrNull(null)).toBeNull()
    expect(wellFormedOrNull('\ud800')).toBe('\ufffd')
    expect(wellFormedOrNull('')).toBe('')
  })
})

describe('wellFormedJson', () => {
  it('makes every string well-formed, keys and nested values included, and leaves other values as they are', () => {
    const input = {
      '\ud800key': ['a\udc00', { inner: '\ud801', n: 1.5, t: true, f: false, z: null }, 7],
      plain: 'ok',
      empty: [],
      nested: { deeper: { s: 'x\ud802' } },
    }
    expect(wellFormedJson(input)).toEqual({
      '\ufffdkey': ['a\ufffd', { inner: '\ufffd', n: 1.5, t: true, f: false, z: null }, 7],
      plain: 'ok',
      empty: [],
      nested: { deeper: { s: 'x\ufffd' } },
    })
  })

  it('handles bare values', () => {
    expect(wellFormedJson('\ud800')).toBe('\ufffd')
    expect(wellFormedJson(null)).toBeNull()
    expect(wellFormedJson(0)).toBe(0)
    expect(wellFormedJson(false)).toBe(false)
    expect(wellFormedJson(['\udc00'])).toEqual(['\ufffd'])
  })

  it('does not modify its input', () => {
    const input = { k: ['\ud800'] }
    wellFormedJson(input)
    expect(input).toEqual({ k: ['\ud800'] })
  })
})
