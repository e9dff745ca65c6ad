import { describe, expect, it } from 'vitest'
import { ConfigError, DEVELOPMENT_JWT_SECRET, loadEnv } from '../src/config/env.ts'
import { createArgon2Hasher } from '../src/auth/argon2-hasher.ts'
import { TEST_JWT_SIGNING_KEY } from './support/test-app.ts'

describe('configuration', () => {
  it('signs with EdDSA by default; HS256 only in development; the signing key must be a complete Ed25519 JWK', () => {
    expect(loadEnv({}).JWT_ALGORITHM).toBe('EdDSA')
    expect(loadEnv({ JWT_ALGORITHM: 'HS256' }).JWT_ALGORITHM).toBe('HS256')
    expect(() => loadEnv({ AUTHTRAIL_ENV: 'test', DATABASE_URL: 'postgres://h/db', JWT_ALGORITHM: 'HS256' })).toThrow(/JWT_ALGORITHM: HS256 is a development option only/)
    expect(loadEnv({ AUTHTRAIL_ENV: 'test', DATABASE_URL: 'postgres://h/db', JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY }).JWT_SIGNING_KEY).toMatchObject({ kid: 'test-2026-12', crv: 'Ed25519' })
    expect(() => loadEnv({ JWT_SIGNING_KEY: '{"kty":"OKP"' })).toThrow(/JWT_SIGNING_KEY: must be JSON/)
    const { d: _d, ...publicOnly } = JSON.parse(TEST_JWT_SIGNING_KEY)
    expect(() => loadEnv({ JWT_SIGNING_KEY: JSON.stringify(publicOnly) })).toThrow(/JWT_SIGNING_KEY\.d/)
    expect(loadEnv({ JWT_VERIFY_KEYS: JSON.stringify([publicOnly]) }).JWT_VERIFY_KEYS).toHaveLength(1)
  })

  it('development needs nothing', () => {
    const env = loadEnv({})
    expect(env).toMatchObject({ AUTHTRAIL_ENV: 'development', PORT: 3000, JWT_SECRET: DEVELOPMENT_JWT_SECRET })
    expect(env.DATABASE_URL).toBeUndefined()
  })

  it('outside development the default key and the embedded database are refused, naming the variables', () => {
    expect(() => loadEnv({ AUTHTRAIL_ENV: 'production' })).toThrow(ConfigError)
    try {
      loadEnv({ AUTHTRAIL_ENV: 'production' })
    } catch (e) {
      expect((e as Error).message).toMatch(/JWT_SIGNING_KEY: must be set in production/)
      expect((e as Error).message).toMatch(/DATABASE_URL: must be set outside development/)
    }
    expect(() => loadEnv({ AUTHTRAIL_ENV: 'production', DATABASE_URL: 'postgres://h/db', JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY })).toThrow(/CHECKPOINT_SIGNING_KEY: must be set in production/)
    // A remote server in production needs verified TLS (test/database-mtls.test.ts).
    expect(() => loadEnv({ AUTHTRAIL_ENV: 'production', DATABASE_URL: 'postgres://h/db?sslmode=verify-full', JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY, CHECKPOINT_SIGNING_KEY_FILE: '/run/secrets/checkpoint-key.pem' })).not.toThrow()
  })

  it('names malformed values', () => {
    expect(() => loadEnv({ PORT: 'eighty' })).toThrow(/PORT/)
    expect(() => loadEnv({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL: must be a postgres:\/\/ URL/)
    expect(() => loadEnv({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 characters/)
    expect(() => loadEnv({ SYSLOG_URL: 'http://x' })).toThrow(/SYSLOG_URL/)
  })

  it('argon2id below the OWASP minimum cannot be configured', () => {
    expect(() => createArgon2Hasher({ memoryCost: 4096, timeCost: 2, parallelism: 1 })).toThrow(/OWASP/)
    expect(() => createArgon2Hasher({ memoryCost: 19_456, timeCost: 1, parallelism: 1 })).toThrow(/OWASP/)
  })

  it('hashes with argon2id at m=19456, t=2, p=1', async () => {
    const hash = await createArgon2Hasher().hash('pw')
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  })
})

describe('version', () => {
  it('SERVICE_VERSION equals package.json', async () => {
    const { SERVICE_VERSION } = await import('../src/version.ts')
    const pkg = JSON.parse(await (await import('node:fs/promises')).readFile(new URL('../package.json', import.meta.url), 'utf8'))
    expect(SERVICE_VERSION).toBe(pkg.version)
  })
})
