import type { Benchmark } from './support/report.ts'

export const queriesBenchmark: Benchmark = {
  name: 'queries',
  title: 'queries',
  async run() {
    return { tables: [], figures: [], notes: [], skipped: 'not built yet' }
  },
}
