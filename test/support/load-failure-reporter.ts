import type { File, Test } from '@vitest/runner'
import type { Reporter, TestModule } from 'vitest/node'

/**
 * For mutation runs only: a test file that fails to load counts as one failed test. StrykerJS's vitest
 * runner scores a mutant by the tests it collected, and a file whose import throws holds none, so a mutant
 * that breaks a module at load time (a default the module's own schema refuses, a table built from a
 * broken function) was scored as survived although every test importing the module fails.
 */
export class LoadFailureAsFailedTest implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    for (const testModule of testModules) {
      // The task is vitest's own record of the file, which the runner reads its tests from (public at run time, untyped).
      const file = (testModule as unknown as { task: File }).task
      if (file.result?.state !== 'fail' || file.tasks.length > 0) continue
      const failed = {
        type: 'test',
        id: `${file.id}_load`,
        name: 'loads',
        mode: 'run',
        file,
        suite: file,
        meta: {},
        timeout: 0,
        annotations: [],
        artifacts: [],
        result: { state: 'fail', errors: file.result.errors ?? [{ message: 'the test file failed to load' }], duration: 0 },
      }
      file.tasks.push(failed as unknown as Test)
    }
  }
}
