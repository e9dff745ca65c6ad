// @ts-check
/**
 * Mutation testing of the pure core (src/core) against its unit tests. Fast (no database, no syslog), so
 * CI runs it on every change, incrementally from the committed results file, and fails below the break
 * threshold. `npm run mutation:core` runs it; `npm run mutation` runs this and the trust-critical one.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts' },
  mutate: ['src/core/**/*.ts', '!src/core/**/*.test.ts'],
  testFiles: ['src/core/**/*.test.ts'],
  coverageAnalysis: 'perTest',
  // The whole type system stays out of the run: TypeScript-invalid mutants would be killed by `tsc`, not by a test.
  disableTypeChecks: true,
  thresholds: { high: 95, low: 90, break: 90 },
  incremental: true,
  incrementalFile: 'mutation/core.incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/core.html' },
  jsonReporter: { fileName: 'reports/mutation/core.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
}
