import { Counter, Gauge, type Registry } from 'prom-client'
import type { Sql } from '../db/client.ts'
import type { RelayStats, SinkCounters } from '../outbox/relay-stats.ts'
import { getRelayStatus, type SinkStatus } from '../outbox/relay-status.ts'
import type { MetricsContributor } from './service-metrics.ts'

/** Read from PostgreSQL at scrape time, so they hold across relay instances. */
const SINK_GAUGES: { name: string; help: string; value: (status: SinkStatus) => number }[] = [
  { name: 'authtrail_relay_lag_seconds', help: 'Age of the oldest event not yet delivered, by sink', value: (s) => s.lagSeconds },
  { name: 'authtrail_relay_undelivered_events', help: 'Events waiting for delivery, by sink', value: (s) => s.undelivered },
  { name: 'authtrail_relay_dead_letters', help: 'Dead-lettered events not yet re-driven, by sink', value: (s) => s.deadLetters },
]

/** This process's own delivery counters. */
const SINK_COUNTERS: { name: string; help: string; value: (counters: SinkCounters) => number }[] = [
  { name: 'authtrail_relay_delivered_events_total', help: 'Events this process delivered, by sink', value: (c) => c.delivered },
  { name: 'authtrail_relay_failed_batches_total', help: 'Batches this process failed to deliver, by sink', value: (c) => c.failures },
]

/**
 * The relay's Prometheus metrics: lag, backlog and dead letters per sink (read from PostgreSQL at scrape
 * time, so they hold across relay instances) and this process's delivery counters.
 */
export function relayMetricsContributor(sql: Sql, stats?: () => RelayStats): MetricsContributor {
  return (registry: Registry) => {
    const bySink = (metric: { name: string; help: string }) => ({ name: metric.name, help: metric.help, labelNames: ['sink'] as const, registers: [registry] })
    for (const gauge of SINK_GAUGES) {
      new Gauge({
        ...bySink(gauge),
        async collect() {
          for (const s of await getRelayStatus(sql)) this.set({ sink: s.sink }, gauge.value(s))
        },
      })
    }
    if (!stats) return
    for (const counter of SINK_COUNTERS) {
      new Counter({
        ...bySink(counter),
        collect() {
          this.reset()
          for (const [sink, c] of Object.entries(stats().sinks)) this.inc({ sink }, counter.value(c))
        },
      })
    }
  }
}
