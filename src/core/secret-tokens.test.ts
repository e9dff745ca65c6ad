import { describe, expect, it } from 'vitest'
import { digestOfToken, newSecretToken } from './secret-tokens.ts'

describe('newSecretToken', () => {
  it('is the prefix and 32 random bytes in base64url (no +, / or padding), different each time', () => {
    const tokens = Array.from({ length: 60 }, () => newSecretToken('atk').token)
    for (const token of tokens) expect(token).toMatch(/^atk_[A-Za-z0-9_-]{43}$/)
    expect(new Set(tokens).size).toBe(tokens.length)
    // 2,580 random symbols: both that base64url replaces turn up (the chance that one does not is below 1e-17).
    const symbols = new Set(tokens.flatMap((t) => [...t.slice(4)]))
    expect(symbols.has('-')).toBe(true)
    expect(symbols.has('_')).toBe(true)
  })

  it('stores only the SHA-256 digest of the whole token', () => {
    const { token, digest } = newSecretToken('inv')
    expect(digest).toEqual(digestOfToken(token))
    expect(digest).toHaveLength(32)
  })
})

describe('digestOfToken', () => {
  it('is SHA-256 of the token\'s UTF-8 bytes', () => {
    expect(Buffer.from(digestOfToken('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(Buffer.from(digestOfToken('é')).toString('hex')).toBe(Buffer.from(digestOfToken('\u00e9')).toString('hex'))
    expect(digestOfToken('a')).not.toEqual(digestOfToken('b'))
  })
})
