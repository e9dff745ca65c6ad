import type { Benchmark } from './support/report.ts'

export const auditOverheadBenchmark: Benchmark = {
  name: 'audit-overhead',
  title: 'audit-overhead',
  async run() {
    return { tables: [], figures: [], notes: [], skipped: 'not built yet' }
  },
}
