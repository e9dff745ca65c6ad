// @ts-check
import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { declareClassPlugin, PluginKind } from '@stryker-mutator/api/plugin'

/**
 * A Stryker reporter that appends each mutant's result to a file as soon as it is known (one JSON line:
 * file, line, column, mutator, replacement, status), so that a long run on a shared machine can be stopped
 * and what it measured so far still read. Stryker's own reporters write only once the whole run ends.
 * The file is `STRYKER_STREAM_FILE`, `reports/mutation/stream.jsonl` by default.
 */
class MutationStreamReporter {
  file = process.env.STRYKER_STREAM_FILE ?? 'reports/mutation/stream.jsonl'

  constructor() {
    mkdirSync(dirname(this.file), { recursive: true })
  }

  /** @param {Readonly<import('@stryker-mutator/api/core').MutantResult>} result */
  onMutantTested(result) {
    const { fileName, location, mutatorName, replacement, status } = result
    const line = { at: new Date().toISOString(), file: fileName, line: location.start.line, column: location.start.column + 1, mutator: mutatorName, replacement, status }
    appendFileSync(this.file, `${JSON.stringify(line)}\n`)
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, 'stream', MutationStreamReporter)]
