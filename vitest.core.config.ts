import { defineConfig } from 'vitest/config'
import base from './vitest.config.ts'
import { LoadFailureAsFailedTest } from './test/support/load-failure-reporter.ts'

/**
 * The pure core's unit tests only: what `stryker.core.config.mjs` runs each mutant against. Selecting them
 * here rather than with Stryker's `testFiles` matters: with `testFiles`, StrykerJS 9.6 activates a mutant
 * of module-level code (a table, a constant) after the module has loaded, so every such mutant survives
 * whatever the tests check (stryker-js issue 6144). The CEF dictionary test is here too: docs/cef.md, what SIEM
 * operators read, is generated from the key table in core/cef.ts and must match it.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['src/core/**/*.test.ts', 'test/cef-docs.test.ts'],
    // One module graph for all the files of a run instead of one per file: the core holds no state between
    // calls and its tests mock nothing, so sharing changes no result, and a run takes a fifth of the time
    // (8 s instead of 38 s on one thread). That decides the mutation run's length: each mutant of
    // module-level code (a table, a schema) runs every test here. Each run still loads the modules afresh,
    // so such a mutant is in effect from the first import.
    isolate: false,
    // A mutant that stops a module from loading fails the tests importing it (see the reporter).
    reporters: ['default', new LoadFailureAsFailedTest()],
  },
})
