// @ts-check
/**
 * Mutation testing of the trust-critical use cases against the integration tests that exercise them on a
 * real PostgreSQL: appending to the chain, verifying it (checkpoints included), the login transaction, and
 * the relay's delivery and dead-letter rules. Slow (each mutant re-runs the database tests that reach it),
 * so it runs with `npm run mutation:trust` (or `npm run mutation`, both configurations, from scratch), not
 * on every CI run. The break threshold holds the score measured when it was set up.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  // The tests are chosen by that vitest configuration, not with `testFiles` (see vitest.core.config.ts).
  vitest: { configFile: 'vitest.trust.config.ts' },
  mutate: [
    'src/audit/record-events.ts',
    'src/audit/verify-tenant-chain.ts',
    'src/audit/chain-checkpoints.ts',
    'src/auth/attempt-login.ts',
    'src/outbox/deliver-claimed-chains.ts',
    'src/outbox/mark-chain-delivered.ts',
    'src/outbox/mark-chain-failed.ts',
    'src/outbox/dead-letter-event.ts',
    'src/outbox/retry-backoff.ts',
  ],
  coverageAnalysis: 'perTest',
  disableTypeChecks: true,
  // Database tests on a shared machine: generous absolute slack before a mutant counts as a timeout.
  timeoutMS: 30_000,
  // The initial run (every related test, one file at a time, with coverage) takes longer than Stryker's default five minutes.
  dryRunTimeoutMinutes: 30,
  thresholds: { high: 90, low: 85, break: 85 },
  incremental: true,
  incrementalFile: 'mutation/trust.incremental.json',
  // `stream`: each result as it is known (test/support/mutation-stream-reporter.mjs), for runs stopped early.
  plugins: ['@stryker-mutator/*', './test/support/mutation-stream-reporter.mjs'],
  reporters: ['clear-text', 'progress', 'html', 'json', 'stream'],
  htmlReporter: { fileName: 'reports/mutation/trust.html' },
  jsonReporter: { fileName: 'reports/mutation/trust.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
}
