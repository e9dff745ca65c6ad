import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from './support/spawn-service.ts'

// Redocly's linter over the committed document, with the rules of redocly.yaml (recommended, warnings as errors).
describe('OpenAPI lint (Redocly)', () => {
  it('finds no problem in openapi/openapi.json', () => {
    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/@redocly/cli/bin/cli.js'), 'lint', 'openapi/openapi.json', '--format=stylish'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 120_000,
    })
    const output = `${run.stdout}\n${run.stderr}`
    expect(output, output).toContain('Your API description is valid')
    expect(output).not.toMatch(/\b(error|warning)\s{2,}[a-z0-9-]+\s/)
    expect(run.status, output).toBe(0)
  }, 150_000)
})
