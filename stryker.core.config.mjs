// @ts-check
/**
 * Mutation testing of the pure core (src/core) against its unit tests: no database, no syslog. Run it with
 * `npm run mutation:core` (incremental: unchanged mutants keep their result from the last run's file) or,
 * with the trust-critical configuration, `npm run mutation` (everything from scratch). CI runs
 * `npm run mutation:ci`, this configuration over the core files whose score has been measured, and fails
 * below `thresholds.break`.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  // The unit tests are chosen by that vitest configuration, not with `testFiles` (see its comment).
  vitest: { configFile: 'vitest.core.config.ts' },
  mutate: ['src/core/**/*.ts', '!src/core/**/*.test.ts'],
  coverageAnalysis: 'perTest',
  // The whole type system stays out of the run: TypeScript-invalid mutants would be killed by `tsc`, not by a test.
  disableTypeChecks: true,
  // A shared two-core machine: generous absolute slack before a mutant counts as a timeout (a timeout counts
  // as killed, so a slow run must not pass for an endless loop).
  timeoutMS: 20_000,
  thresholds: { high: 95, low: 90, break: 90 },
  incremental: true,
  incrementalFile: 'mutation/core.incremental.json',
  // `stream`: each result as it is known (test/support/mutation-stream-reporter.mjs), for runs stopped early.
  plugins: ['@stryker-mutator/*', './test/support/mutation-stream-reporter.mjs'],
  reporters: ['clear-text', 'progress', 'html', 'json', 'stream'],
  htmlReporter: { fileName: 'reports/mutation/core.html' },
  jsonReporter: { fileName: 'reports/mutation/core.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
}
