import { describe, expect, it } from 'vitest'
import { formatArgon2idPhc, meetsOwaspMinimum, parseArgon2idPhc } from './argon2id-phc.ts'

// A PHC string as @node-rs/argon2 writes it (16-byte salt, 32-byte tag).
const NATIVE = '$argon2id$v=19$m=19456,t=2,p=1$msdvm5e23nK+QobxMYxXwA$dGPVJGeUEmvnthwKB9M3wNvQXGIRVr7fpI9aIlSRlTg'

describe('argon2id PHC strings', () => {
  it('parses and formats back byte for byte', () => {
    const phc = parseArgon2idPhc(NATIVE)!
    expect(phc.params).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 })
    expect(phc.salt).toHaveLength(16)
    expect(phc.hash).toHaveLength(32)
    expect(formatArgon2idPhc(phc)).toBe(NATIVE)
  })

  it.each([
    ['empty', ''],
    ['bcrypt', '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW'],
    ['argon2i', NATIVE.replace('$argon2id$', '$argon2i$')],
    ['argon2 version 0x10', NATIVE.replace('v=19', 'v=16')],
    ['parameters out of order', NATIVE.replace('m=19456,t=2,p=1', 't=2,m=19456,p=1')],
    ['padded base64', `${NATIVE}=`],
    ['URL-safe base64', NATIVE.replace('+', '-')],
    ['non-canonical trailing bits', NATIVE.replace(/g$/, 'h')],
    ['a salt under 8 bytes', NATIVE.replace('msdvm5e23nK+QobxMYxXwA', 'c2FsdA')],
    ['zero lanes', NATIVE.replace('p=1', 'p=0')],
    ['memory above 2^32 KiB', NATIVE.replace('m=19456', 'm=4294967296')],
    ['a key id', NATIVE.replace('p=1$', 'p=1,keyid=AAAA$')],
  ])('refuses %s', (_, text) => {
    expect(parseArgon2idPhc(text)).toBeNull()
  })

  it('judges parameters against the OWASP minimum (m=19456 KiB, t=2, p=1)', () => {
    expect(meetsOwaspMinimum({ memoryCost: 19_456, timeCost: 2, parallelism: 1 })).toBe(true)
    expect(meetsOwaspMinimum({ memoryCost: 65_536, timeCost: 3, parallelism: 4 })).toBe(true)
    expect(meetsOwaspMinimum({ memoryCost: 19_455, timeCost: 2, parallelism: 1 })).toBe(false)
    expect(meetsOwaspMinimum({ memoryCost: 19_456, timeCost: 1, parallelism: 1 })).toBe(false)
  })
})
