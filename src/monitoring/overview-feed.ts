import type { TenantScope } from '../core/tenancy.ts'

export interface OverviewFeedOptions<T> {
  /** Computes the overview of a scope (the expensive read). */
  read: (scope: TenantScope) => Promise<T>
  /** A cheap value that changes whenever the tenant's trail does (see readTrailVersion). */
  version: (tenantId: string) => Promise<string>
  /** How often the version is read per watched scope. */
  pollMs: number
  /** The overview is recomputed at least this often even without new events (lockouts expire, relay lag moves). */
  refreshMs: number
  now: () => number
  log: (entry: Record<string, unknown>) => void
}

export interface OverviewFeed<T> {
  /**
   * Calls `listener` with every overview of the scope computed from now on, until the returned function is
   * called. A subscriber that needs one at once reads it itself.
   */
  subscribe(scope: TenantScope, listener: (overview: T) => void): () => void
  /** Scopes being polled now (for tests and metrics). */
  watched(): number
}

interface Watch<T> {
  scope: TenantScope
  listeners: Set<(overview: T) => void>
  version: string | null
  computedAt: number
  timer: ReturnType<typeof setTimeout> | null
}

/**
 * Pushes overviews to the subscribers of each scope. One poll per scope with subscribers, whatever their
 * number: every `pollMs` it reads the trail's version and recomputes the overview only when the version
 * moved or `refreshMs` passed; nothing runs for a scope nobody watches. Polling the database rather than
 * being woken by the write path keeps every instance of the service exact, whichever one took the login.
 *
 * @example
 * const feed = createOverviewFeed({ read, version, pollMs: 1000, refreshMs: 5000, now: Date.now, log })
 * const stop = feed.subscribe(scope, (overview) => send(overview))
 */
export function createOverviewFeed<T>(options: OverviewFeedOptions<T>): OverviewFeed<T> {
  const watches = new Map<string, Watch<T>>()

  async function poll(key: string, watch: Watch<T>): Promise<void> {
    try {
      const version = await options.version(watch.scope.tenantId)
      if (version !== watch.version || options.now() - watch.computedAt >= options.refreshMs) {
        const overview = await options.read(watch.scope)
        watch.version = version
        watch.computedAt = options.now()
        for (const listener of watch.listeners) listener(overview)
      }
    } catch (error) {
      options.log({ level: 'warn', msg: 'overview poll failed', tenant_id: watch.scope.tenantId, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
    } finally {
      // The next poll is scheduled after this one ends: a slow database never piles polls up.
      if (watches.get(key) === watch && watch.listeners.size > 0) watch.timer = setTimeout(() => void poll(key, watch), options.pollMs)
    }
  }

  return {
    subscribe(scope, listener) {
      const key = `${scope.tenantId}/${scope.organisationId ?? '*'}`
      let watch = watches.get(key)
      if (!watch) {
        watch = { scope, listeners: new Set(), version: null, computedAt: 0, timer: null }
        watches.set(key, watch)
        const started = watch
        started.timer = setTimeout(() => void poll(key, started), options.pollMs)
      }
      watch.listeners.add(listener)
      const current = watch
      return () => {
        current.listeners.delete(listener)
        if (current.listeners.size === 0 && watches.get(key) === current) {
          if (current.timer) clearTimeout(current.timer)
          watches.delete(key)
        }
      }
    },
    watched: () => watches.size,
  }
}
