import { hash as rawNativeHash, verify as rawNativeVerify } from '@node-rs/argon2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createArgon2Hasher } from '../src/auth/argon2-hasher.ts'
import type { PasswordHasher } from '../src/auth/password-hasher.ts'
import { selectPasswordHasher, type PasswordHasherLoaders } from '../src/auth/select-password-hasher.ts'
import { createWasmArgon2Hasher } from '../src/auth/wasm-argon2-hasher.ts'
import { ConfigError, loadEnv } from '../src/config/env.ts'
import { compileArgon2idWasm } from '../src/runtime/password-hashers.ts'
import { countingHasher } from './support/counting-hasher.ts'
import { createTestDatabase, type TestDatabase } from './support/database.ts'
import { createTestApp, postJson, seedTenant } from './support/test-app.ts'

// The two argon2id implementations behind the PasswordHasher port: native (@node-rs/argon2) and WebAssembly
// (the `argon2id` package, as on Cloudflare Workers and Deno Deploy). Either must read what the other wrote.

const ARGON2ID = 2
const PHC_SHAPE = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/

let native: PasswordHasher
let wasm: PasswordHasher

beforeAll(async () => {
  native = createArgon2Hasher()
  wasm = await createWasmArgon2Hasher(await compileArgon2idWasm())
})

// Short (below the WASM library's 8-byte floor, computed by the portable fallback), multi-byte, long.
const PASSWORDS = ['correct horse battery staple', 'pw', 'x', 'pässwörd 🔑 ключ', 'ÿ'.repeat(1024)]

describe('native and WebAssembly argon2id', () => {
  it('write PHC strings of the same shape (argon2id v19, OWASP parameters, 16-byte salt, 32-byte tag)', async () => {
    expect(await native.hash('correct horse battery staple')).toMatch(PHC_SHAPE)
    expect(await wasm.hash('correct horse battery staple')).toMatch(PHC_SHAPE)
  })

  it.each(PASSWORDS)('each verifies what the other wrote, and refuses a wrong password (%#)', async (password) => {
    const fromNative = await native.hash(password)
    const fromWasm = await wasm.hash(password)
    expect(await wasm.verify(fromNative, password)).toBe(true)
    expect(await native.verify(fromWasm, password)).toBe(true)
    expect(await wasm.verify(fromWasm, password)).toBe(true)
    expect(await wasm.verify(fromNative, `${password}!`)).toBe(false)
    expect(await native.verify(fromWasm, `${password}!`)).toBe(false)
    expect(await wasm.verify(fromWasm, password.slice(1))).toBe(false)
  })

  it('agree on hashes with stronger parameters than the minimum', async () => {
    const strongNative = createArgon2Hasher({ memoryCost: 32_768, timeCost: 3, parallelism: 2 })
    const strongWasm = await createWasmArgon2Hasher(await compileArgon2idWasm(), { memoryCost: 24_576, timeCost: 3, parallelism: 2 })
    const a = await strongNative.hash('a stronger password')
    const b = await strongWasm.hash('a stronger password')
    expect(a).toMatch(/^\$argon2id\$v=19\$m=32768,t=3,p=2\$/)
    expect(b).toMatch(/^\$argon2id\$v=19\$m=24576,t=3,p=2\$/)
    for (const hasher of [native, wasm]) {
      expect(await hasher.verify(a, 'a stronger password')).toBe(true)
      expect(await hasher.verify(b, 'a stronger password')).toBe(true)
      expect(await hasher.verify(b, 'a weaker guess')).toBe(false)
    }
  })

  it('both refuse to be built below the OWASP minimum', async () => {
    const modules = await compileArgon2idWasm()
    for (const params of [
      { memoryCost: 4096, timeCost: 2, parallelism: 1 },
      { memoryCost: 19_456, timeCost: 1, parallelism: 1 },
    ]) {
      expect(() => createArgon2Hasher(params)).toThrow(/OWASP/)
      await expect(createWasmArgon2Hasher(modules, params)).rejects.toThrow(/OWASP/)
    }
  })

  it('both refuse to verify a stored hash below the OWASP minimum, though it is a valid argon2id hash', async () => {
    for (const weak of [
      { memoryCost: 4096, timeCost: 3, parallelism: 1 },
      { memoryCost: 19_456, timeCost: 1, parallelism: 1 },
    ]) {
      const stored = await rawNativeHash('the right password', { ...weak, algorithm: ARGON2ID })
      // The library itself would accept it: the refusal is ours, in both implementations.
      expect(await rawNativeVerify(stored, 'the right password')).toBe(true)
      expect(await native.verify(stored, 'the right password')).toBe(false)
      expect(await wasm.verify(stored, 'the right password')).toBe(false)
    }
  })

  it('both answer false, without throwing, for stored values that are not argon2id PHC strings', async () => {
    const good = await native.hash('the right password')
    for (const stored of ['', 'plain text', good.replace('$argon2id$', '$argon2i$'), good.replace('v=19', 'v=16'), `${good}=`, good.slice(0, -10)]) {
      expect(await native.verify(stored, 'the right password')).toBe(false)
      expect(await wasm.verify(stored, 'the right password')).toBe(false)
    }
  })
})

describe('choosing the hasher at start-up (PASSWORD_HASHER)', () => {
  const failingNative: PasswordHasherLoaders = {
    native: () => Promise.reject(new Error('Cannot find native binding')),
    wasm: async () => wasm,
  }
  const working: PasswordHasherLoaders = { native: async () => native, wasm: async () => wasm }

  it('auto takes the native hasher where it loads, and WebAssembly where it does not, saying why', async () => {
    expect(await selectPasswordHasher('auto', working)).toMatchObject({ hasher: native, kind: 'native' })
    const fallback = await selectPasswordHasher('auto', failingNative)
    expect(fallback).toMatchObject({ hasher: wasm, kind: 'wasm' })
    expect(fallback.reason).toMatch(/native argon2id unavailable: Cannot find native binding/)
  })

  it('wasm is used when asked for, even where native would load', async () => {
    expect(await selectPasswordHasher('wasm', working)).toMatchObject({ hasher: wasm, kind: 'wasm' })
  })

  it('native that cannot load is a configuration error naming PASSWORD_HASHER', async () => {
    const error = await selectPasswordHasher('native', failingNative).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(/PASSWORD_HASHER: native argon2id cannot be loaded here \(Cannot find native binding\); use wasm or auto/)
  })

  it('the configuration accepts auto, native and wasm only (auto by default)', () => {
    expect(loadEnv({}).PASSWORD_HASHER).toBe('auto')
    expect(loadEnv({ PASSWORD_HASHER: 'wasm' }).PASSWORD_HASHER).toBe('wasm')
    expect(() => loadEnv({ PASSWORD_HASHER: 'bcrypt' })).toThrow(/PASSWORD_HASHER/)
  })
})

describe('an unknown identifier with the WebAssembly hasher', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase('wasm_hasher')
  })
  afterAll(() => db?.drop())

  it('is verified against the dummy hash and answered exactly like a wrong password; the right one logs in', async () => {
    const counting = countingHasher(wasm)
    const t = await createTestApp(db.sql, { hasher: counting, dummyHash: await wasm.hash(crypto.randomUUID()) })
    // The user's hash was written by the native hasher (seedTenant): a switch of implementation keeps it valid.
    const acme = await seedTenant(db.sql, { slug: 'wasm-acme', users: [{ identifier: 'bob@acme.test' }] })
    const bob = acme.users['bob@acme.test']!
    const answer = async (identifier: string, password: string) => {
      const res = await postJson(t.app, '/v1/auth/login', { tenant: 'wasm-acme', identifier, password })
      const body = (await res.json()) as Record<string, unknown>
      delete body.request_id
      delete body.event_id
      return { status: res.status, type: res.headers.get('content-type'), body }
    }
    const wrong = await answer('bob@acme.test', 'not-bobs-password')
    const unknown = await answer('nobody@acme.test', 'not-bobs-password')
    expect(unknown).toEqual(wrong)
    expect(wrong).toMatchObject({ status: 401, type: 'application/problem+json', body: { code: 'invalid_credentials' } })
    const [stored] = await db.sql<{ password_hash: string }[]>`SELECT password_hash FROM users WHERE id = ${bob.id}`
    expect(counting.verifications).toEqual([stored!.password_hash, t.deps.dummyHash])
    expect((await answer('bob@acme.test', bob.password)).status).toBe(200)
  })
})
