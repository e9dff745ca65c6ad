import type { Benchmark } from './support/report.ts'

export const hashChainBenchmark: Benchmark = {
  name: 'hash-chain',
  title: 'hash-chain',
  async run() {
    return { tables: [], figures: [], notes: [], skipped: 'not built yet' }
  },
}
