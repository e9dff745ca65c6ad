import { Counter, Gauge, type Registry } from 'prom-client'
import type { Sql } from '../db/client.ts'
import { getRelayStatus } from '../outbox/relay-status.ts'
import type { RelayStats } from '../outbox/relay-stats.ts'
import type { MetricsContributor } from './service-metrics.ts'

/**
 * The relay's Prometheus metrics: lag, backlog and dead letters per sink (read from PostgreSQL at scrape
 * time, so they hold across relay instances) and this process's delivery counters.
 */
export function relayMetricsContributor(sql: Sql, stats?: () => RelayStats): MetricsContributor {
  return (registry: Registry) => {
    const status = () => getRelayStatus(sql)
    new Gauge({
      name: 'authtrail_relay_lag_seconds',
      help: 'Age of the oldest event not yet delivered, by sink',
      labelNames: ['sink'] as const,
      registers: [registry],
      async collect() {
        for (const s of await status()) this.set({ sink: s.sink }, s.lagSeconds)
      },
    })
    new Gauge({
      name: 'authtrail_relay_undelivered_events',
      help: 'Events waiting for delivery, by sink',
      labelNames: ['sink'] as const,
      registers: [registry],
      async collect() {
        for (const s of await status()) this.set({ sink: s.sink }, s.undelivered)
      },
    })
    new Gauge({
      name: 'authtrail_relay_dead_letters',
      help: 'Dead-lettered events not yet re-driven, by sink',
      labelNames: ['sink'] as const,
      registers: [registry],
      async collect() {
        for (const s of await status()) this.set({ sink: s.sink }, s.deadLetters)
      },
    })
    if (!stats) return
    new Counter({
      name: 'authtrail_relay_delivered_events_total',
      help: 'Events this process delivered, by sink',
      labelNames: ['sink'] as const,
      registers: [registry],
      collect() {
        this.reset()
        for (const [sink, c] of Object.entries(stats().sinks)) this.inc({ sink }, c.delivered)
      },
    })
    new Counter({
      name: 'authtrail_relay_failed_batches_total',
      help: 'Batches this process failed to deliver, by sink',
      labelNames: ['sink'] as const,
      registers: [registry],
      collect() {
        this.reset()
        for (const [sink, c] of Object.entries(stats().sinks)) this.inc({ sink }, c.failures)
      },
    })
  }
}
