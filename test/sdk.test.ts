import createClient from 'openapi-fetch'
import { describe, expect, it } from 'vitest'
import type { paths } from '../sdk/src/api.d.ts'
import { useTestDatabase } from './support/database.ts'
import { useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('sdk')
const t = useTestApp(db)
const acme = useSeededTenant(db, { slug: 'acme', users: [{ identifier: 'alice@acme.test' }] })

describe('generated client SDK (openapi-typescript types + openapi-fetch)', () => {
  it('web and mobile clients log in through the typed client, and errors arrive typed as problems', async () => {
    const client = createClient<paths>({ baseUrl: 'http://authtrail.test', fetch: (request) => Promise.resolve(t.app.fetch(request)) })
    const alice = acme.users['alice@acme.test']!
    const web = await client.POST('/v1/auth/login', { body: { tenant: 'acme', identifier: alice.identifier, password: alice.password } })
    expect(web.response.status).toBe(200)
    expect(web.data?.token_type).toBe('Bearer')
    const mobile = await client.POST('/v1/mobile/auth/login', {
      body: { tenant: 'acme', identifier: alice.identifier, password: alice.password, device_id: 'android-7' },
      params: { header: { 'idempotency-key': 'sdk-retry-0001' } },
    })
    expect(mobile.data?.event_id).toMatch(/^[0-9a-f-]{36}$/)
    const wrong = await client.POST('/v1/auth/login', { body: { tenant: 'acme', identifier: alice.identifier, password: 'nope' } })
    expect(wrong.error).toMatchObject({ status: 401, code: 'invalid_credentials' })
    const verify = await client.GET('/v1/audit/verify', { headers: { authorization: `Bearer ${web.data!.access_token}` } })
    expect(verify.error).toMatchObject({ status: 403, code: 'forbidden' })
  })
})
