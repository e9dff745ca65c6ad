import { describe, expect, it } from 'vitest'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { UNATTRIBUTED_TENANT, UNATTRIBUTED_TENANT_ID } from '../src/core/tenancy.ts'
import { useTestDatabase } from './support/database.ts'
import { postJson, useTestApp } from './support/test-app.ts'

// Attempts that name no known tenant are any client's unreadable requests, all recorded by the reserved
// tenant. With one chain they all queued on one chain head's row lock; now they spread over as many chains
// as a tenant has.

const db = useTestDatabase('unattributed_shards')
const t = useTestApp(db)

describe('the unattributed tenant', () => {
  it('has as many chains as a tenant, and malformed requests from many clients spread over them, each chain intact', async () => {
    const [tenant] = await db.sql<{ chain_shards: number }[]>`SELECT chain_shards FROM tenants WHERE id = ${UNATTRIBUTED_TENANT_ID}`
    const [defaults] = await db.sql<{ shards: number }[]>`
      SELECT column_default::int AS shards FROM information_schema.columns WHERE table_name = 'tenants' AND column_name = 'chain_shards'`
    expect(tenant!.chain_shards).toBe(defaults!.shards)
    expect(UNATTRIBUTED_TENANT.chainShards).toBe(defaults!.shards)
    const heads = await db.sql<{ shard: number }[]>`SELECT shard FROM chain_heads WHERE tenant_id = ${UNATTRIBUTED_TENANT_ID} ORDER BY shard`
    expect(heads.map((h) => h.shard)).toEqual(Array.from({ length: defaults!.shards }, (_, i) => i))

    // 48 malformed bodies (no identifier to shard by) and 16 attempts at unknown tenants, 16 at a time.
    const requests = [
      ...Array.from({ length: 48 }, () => () => postJson(t.app, '/v1/auth/login', '{"tenant": "acme", "password": ')),
      ...Array.from({ length: 16 }, (_, i) => () => postJson(t.app, '/v1/auth/login', { tenant: `nowhere-${i}`, identifier: `someone-${i}@example.com`, password: 'p' })),
    ]
    for (let i = 0; i < requests.length; i += 16) {
      const answers = await Promise.all(requests.slice(i, i + 16).map((send) => send()))
      expect(answers.map((r) => r.status).every((s) => s === 400 || s === 404)).toBe(true)
    }
    const perShard = await db.sql<{ shard: number; n: number }[]>`
      SELECT shard, count(*)::int AS n FROM auth_logs WHERE tenant_id = ${UNATTRIBUTED_TENANT_ID} GROUP BY shard`
    expect(perShard.reduce((sum, s) => sum + s.n, 0)).toBe(64)
    // 64 uniform draws over 16 chains leave fewer than 10 chains used with a probability below 1e-6.
    expect(perShard.length).toBeGreaterThanOrEqual(10)
    // An attempt that names an identifier goes to that identifier's chain, as in a tenant.
    const named = await db.sql<{ identifier: string; shard: number }[]>`
      SELECT identifier, shard FROM auth_logs WHERE tenant_id = ${UNATTRIBUTED_TENANT_ID} AND identifier IS NOT NULL`
    expect(named).toHaveLength(16)
    const { shardFor } = await import('../src/core/identifier.ts')
    for (const row of named) expect(row.shard).toBe(shardFor(row.identifier, defaults!.shards))

    const verification = await verifyTenantChain(db.sql, UNATTRIBUTED_TENANT_ID, nodeDigester)
    expect(verification.ok).toBe(true)
  })
})
