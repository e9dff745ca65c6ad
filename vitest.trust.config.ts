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
      'test/login.test.ts',
      'test/lockout.test.ts',
      'test/idempotency.test.ts',
      'test/fail-closed.test.ts',
      'test/event-definition.test.ts',
      'test/relay-failures.test.ts',
      'test/relay-gap.test.ts',
      'test/deliver-claimed-chains.test.ts',
      'test/verify-tenant-chain.test.ts',
      'test/attempt-login.test.ts',
      'test/signed-checkpoints.test.ts',
    ],
    reporters: ['default', new LoadFailureAsFailedTest()],
  },
})
