import { defineConfig } from 'vitest/config'
import base from './vitest.config.ts'
import { LoadFailureAsFailedTest } from './test/support/load-failure-reporter.ts'

/**
 * The tests `stryker.trust.config.mjs` runs each mutant of the trust-critical use cases against: the unit
 * test of the backoff and the integration tests on PostgreSQL that drive appending, verifying, the login
 * transaction and the relay. Chosen here, not with Stryker's `testFiles`, for the reason given in
 * vitest.core.config.ts (module-level mutants would all survive).
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'src/outbox/retry-backoff.test.ts',
      'test/chain.test.ts',
      'test/retention.test.ts',
      'test/retention-checkpoints.test.ts',
      'test/login.test.ts',
      'test/lockout.test.ts',
      'test/lockout-account-ip.test.ts',
      'test/idempotency.test.ts',
      'test/fail-closed.test.ts',
      'test/event-definition.test.ts',
      'test/relay-failures.test.ts',
      'test/relay-gap.test.ts',
      'test/deliver-claimed-chains.test.ts',
      'test/mark-chain-delivered.test.ts',
      'test/dead-letter-event.test.ts',
      'test/verify-tenant-chain.test.ts',
      'test/attempt-login.test.ts',
      'test/signed-checkpoints.test.ts',
      'test/ip-throttle.test.ts',
    ],
    // Each mutant re-runs the database tests that reach it, each file in a database of its own: the files
    // copy one migrated database instead of migrating their own (1.4 s instead of 3.5–7 s on the loaded
    // machine, and dropping a copy 0.7 s instead of 1.5–3 s).
    globalSetup: ['test/support/template-database.ts'],
    // A mutation run keeps both cores busy for an hour; a test (the real CLI among them) may take longer
    // than usual to finish, and one cut off by the time limit would count as a killed mutant.
    testTimeout: 180_000,
    reporters: ['default', new LoadFailureAsFailedTest()],
  },
})
