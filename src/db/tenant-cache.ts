import type { Queryable } from './queryable.ts'
import { findTenantBySlug, type Tenant } from './tenants.ts'

export interface TenantCache {
  /** The tenant of a slug, from the cache when it was read less than `ttlMs` ago; unknown slugs are not cached. */
  bySlug(slug: string): Promise<Tenant | null>
  /** Forgets a tenant (by id), or every tenant: call it after changing a tenant in this process. */
  invalidate(tenantId?: string): void
}

export interface TenantCacheOptions {
  /** How long a tenant read is used: the longest another process's plan change goes unseen. Default 5 s. */
  ttlMs?: number
  /** Tenants kept at most; the oldest entry goes first. Default 10,000. */
  maxEntries?: number
  clock?: () => number
}

/**
 * Tenants cached in the process, so that a login does not read its tenant on every attempt. A change made
 * by this process is seen at once (`invalidate`), one made by another process within `ttlMs`.
 *
 * @example
 * const tenants = createTenantCache(sql)
 * const tenant = await tenants.bySlug('acme')
 */
export function createTenantCache(db: Queryable, options: TenantCacheOptions = {}): TenantCache {
  const ttlMs = options.ttlMs ?? 5_000
  const maxEntries = options.maxEntries ?? 10_000
  const clock = options.clock ?? Date.now
  const entries = new Map<string, { tenant: Tenant; readAt: number }>()
  let generation = 0
  return {
    async bySlug(slug) {
      const cached = entries.get(slug)
      if (cached && clock() - cached.readAt < ttlMs) return cached.tenant
      const startedIn = generation
      const readAt = clock()
      const tenant = await findTenantBySlug(db, slug)
      // A read that began before an invalidation may hold the old plan: answer it, but do not keep it.
      if (tenant && startedIn === generation) {
        entries.delete(slug)
        entries.set(slug, { tenant, readAt })
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value!)
      }
      return tenant
    },
    invalidate(tenantId) {
      generation++
      if (tenantId === undefined) return entries.clear()
      for (const [slug, entry] of entries) if (entry.tenant.id === tenantId) entries.delete(slug)
    },
  }
}
