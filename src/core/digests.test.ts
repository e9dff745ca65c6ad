import { describe, expect, it } from 'vitest'
import { constantTimeEqual, hexDigests, nobleDigester } from './digests.ts'

const abc = new TextEncoder().encode('abc')

describe('nobleDigester', () => {
  it('computes SHA-256, SHA-512 and SHA3-256 (the FIPS 180-4 and FIPS 202 test vectors for "abc")', () => {
    const hex = hexDigests(nobleDigester.digestBytes(abc))
    expect(hex).toEqual({
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      sha512:
        'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
      sha3_256: '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532',
    })
    expect(nobleDigester.sha256(abc)).toEqual(nobleDigester.digestBytes(abc).sha256)
  })
})

describe('constantTimeEqual', () => {
  it('is true for equal contents only', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true)
    expect(constantTimeEqual(new Uint8Array([]), new Uint8Array([]))).toBe(true)
    expect(constantTimeEqual(new Uint8Array([9, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(false)
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false)
    // Every differing bit counts, whichever byte holds it.
    expect(constantTimeEqual(new Uint8Array([0, 0x80]), new Uint8Array([0, 0]))).toBe(false)
  })

  it('is false for different lengths, a prefix included', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false)
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]))).toBe(false)
    expect(constantTimeEqual(new Uint8Array([]), new Uint8Array([0]))).toBe(false)
  })
})
