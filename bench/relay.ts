import type { Benchmark } from './support/report.ts'

export const relayBenchmark: Benchmark = {
  name: 'relay',
  title: 'relay',
  async run() {
    return { tables: [], figures: [], notes: [], skipped: 'not built yet' }
  },
}
