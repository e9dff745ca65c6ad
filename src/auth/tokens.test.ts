import { sign } from 'hono/jwt'
import { describe, expect, it } from 'vitest'
import { createTokenService, generateSigningKey, type SessionClaims } from './tokens.ts'

describe('EdDSA access tokens', () => {
  it('are the very tokens hono/jwt signs with the same key (header, claims and deterministic signature), and verify', async () => {
    const key = await generateSigningKey('tokens-test')
    const tokens = createTokenService({ signing: key }, 'authtrail')
    const base = {
      sub: '0190a5b4-1c2d-7e3f-8a9b-0c1d2e3f4a5b',
      tid: '0190a5b4-1c2d-7e3f-8a9b-0c1d2e3f4a5c',
      org: '0190a5b4-1c2d-7e3f-8a9b-0c1d2e3f4a5d',
      role: 'user' as const,
      jti: 'jti-1',
      sid: 'sid-1',
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 3600,
    }
    for (const claims of [base, { ...base, did: 'ios-6F2C9A', jti: 'jti-é-✓' }, { ...base, csrf: 'x'.repeat(43) }]) {
      const token = await tokens.issue(claims)
      expect(token).toBe(await sign({ ...claims, iss: 'authtrail' }, { ...key, alg: 'EdDSA' }))
      // A second token reuses the imported key.
      expect(await tokens.issue(claims)).toBe(token)
      const verified: SessionClaims = await tokens.verify(token)
      expect(verified).toMatchObject({ ...claims, iss: 'authtrail' })
    }
  })
})
