import type { MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Channel } from '../core/event-types.ts'
import type { Sql } from '../db/client.ts'
import { countThrottledNetworks } from '../db/ip-throttles.ts'
import { countLockedAccounts } from '../db/lockouts.ts'

/** How a login attempt ended, as the HTTP status tells it. */
export type LoginOutcome = 'success' | 'invalid_credentials' | 'locked' | 'throttled' | 'rejected' | 'error'

/** Registers further metrics on the service registry (the outbox relay's, for example). */
export type MetricsContributor = (registry: Registry) => void

export interface ServiceMetrics {
  readonly registry: Registry
  /**
   * Times every request (`authtrail_http_request_duration_seconds` by method, route pattern and status)
   * and counts login attempts by channel and outcome. Must be registered before the routes.
   */
  readonly middleware: MiddlewareHandler
  recordLoginAttempt(channel: Channel, outcome: LoginOutcome): void
  /** A lockout was triggered (the login use case knows; see the wiring note). */
  recordLockout(channel: Channel): void
  /** An address began a throttling episode (it spent its failure budget). */
  recordThrottle(channel: Channel): void
  /** Appends another registry (a relay running with its own) to the scrape. */
  addRegistry(registry: Registry): void
  /** The Prometheus text exposition of every registry. */
  render(): Promise<{ contentType: string; body: string }>
}

export interface ServiceMetricsOptions {
  /** Reads the gauge of currently locked accounts at scrape time; omitted, the gauge is not exported. */
  sql?: Sql
  contributors?: MetricsContributor[]
  /** Process metrics (CPU, memory, event loop lag): on by default. */
  defaultMetrics?: boolean
}

/** The login routes and their channel: attempts are counted from their responses. */
const LOGIN_ROUTES: Record<string, Channel> = { '/v1/auth/login': 'web', '/v1/mobile/auth/login': 'mobile' }

export function loginOutcomeOfStatus(status: number): LoginOutcome {
  if (status === 200) return 'success'
  if (status === 401) return 'invalid_credentials'
  if (status === 423) return 'locked'
  if (status === 429) return 'throttled'
  if (status >= 400 && status < 500) return 'rejected'
  return 'error'
}

/**
 * Creates the service's Prometheus metrics on their own registry (never the global one, so two apps in
 * one process, as in tests, do not collide). Labels carry no tenant, identifier or address: the scrape
 * is not an investigation channel.
 *
 * @example
 * const metrics = createServiceMetrics({ sql })
 * app.use('*', metrics.middleware) // before the routes
 * registerInvestigationRoutes(app, deps, { metrics })
 */
export function createServiceMetrics(options: ServiceMetricsOptions = {}): ServiceMetrics {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'authtrail_' })

  const loginAttempts = new Counter({
    name: 'authtrail_login_attempts_total',
    help: 'Login attempts answered, by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  })
  const lockouts = new Counter({
    name: 'authtrail_account_lockouts_total',
    help: 'Lockouts triggered by failed logins, by channel',
    labelNames: ['channel'] as const,
    registers: [registry],
  })
  const throttles = new Counter({
    name: 'authtrail_ip_throttles_total',
    help: 'Throttling episodes begun by addresses that spent their failure budget, by channel',
    labelNames: ['channel'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'authtrail_http_request_duration_seconds',
    help: 'Request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    // Logins cost ~10 ms of argon2id; reports and exports take seconds.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })
  if (options.sql) {
    const sql = options.sql
    new Gauge({
      name: 'authtrail_accounts_locked',
      help: 'Identifiers locked right now, all tenants (read from the lockout state at scrape time)',
      registers: [registry],
      async collect() {
        this.set(await countLockedAccounts(sql))
      },
    })
    new Gauge({
      name: 'authtrail_addresses_throttled',
      help: 'Networks (IPv4 address, IPv6 /64) in a throttling episode right now, all tenants (read at scrape time)',
      registers: [registry],
      async collect() {
        this.set(await countThrottledNetworks(sql))
      },
    })
  }
  for (const contribute of options.contributors ?? []) contribute(registry)
  const extra: Registry[] = []

  const middleware: MiddlewareHandler = async (c, next) => {
    const started = performance.now()
    try {
      await next()
    } finally {
      const status = c.res.status
      const responder = matchedRoutes(c)[c.req.routeIndex]
      // Route patterns only: a raw path would put identifiers in labels and explode cardinality.
      const route = responder && responder.method !== 'ALL' ? responder.path : 'unmatched'
      duration.observe({ method: c.req.method, route, status: String(status) }, (performance.now() - started) / 1000)
      const channel = c.req.method === 'POST' ? LOGIN_ROUTES[c.req.path] : undefined
      if (channel) loginAttempts.inc({ channel, outcome: loginOutcomeOfStatus(status) })
    }
  }

  return {
    registry,
    middleware,
    recordLoginAttempt: (channel, outcome) => loginAttempts.inc({ channel, outcome }),
    recordLockout: (channel) => lockouts.inc({ channel }),
    recordThrottle: (channel) => throttles.inc({ channel }),
    addRegistry: (r) => void extra.push(r),
    async render() {
      const parts = [await registry.metrics()]
      for (const r of extra) parts.push(await r.metrics())
      return { contentType: registry.contentType, body: parts.join('\n') }
    },
  }
}
