import { describe, expect, it } from 'vitest'
import { createTenantCache } from '../src/db/tenant-cache.ts'
import { useTestDatabase } from './support/database.ts'
import { useSeededTenant } from './support/test-app.ts'

const db = useTestDatabase('tenant_cache')
const acme = useSeededTenant(db, { slug: 'acme' })

describe('the tenant cache', () => {
  it('answers from the cache within its lifetime, reads again after it or after an invalidation', async () => {
    let now = 0
    const tenants = createTenantCache(db.sql, { ttlMs: 5_000, clock: () => now })
    expect((await tenants.bySlug('acme'))!.retentionDays).toBe(365)
    await db.sql`UPDATE tenants SET retention_days = 30 WHERE id = ${acme.tenant.id}`
    now = 4_999
    expect((await tenants.bySlug('acme'))!.retentionDays).toBe(365)
    now = 5_000
    expect((await tenants.bySlug('acme'))!.retentionDays).toBe(30)
    await db.sql`UPDATE tenants SET retention_days = 60 WHERE id = ${acme.tenant.id}`
    tenants.invalidate(acme.tenant.id)
    expect((await tenants.bySlug('acme'))!.retentionDays).toBe(60)
  })

  it('does not remember unknown slugs, and keeps at most maxEntries', async () => {
    const tenants = createTenantCache(db.sql, { maxEntries: 1 })
    expect(await tenants.bySlug('nobody')).toBeNull()
    await db.sql`INSERT INTO tenants (id, slug, name) VALUES (gen_random_uuid(), 'nobody', 'Nobody')`
    expect(await tenants.bySlug('nobody')).not.toBeNull()
    expect(await tenants.bySlug('acme')).not.toBeNull()
  })
})
