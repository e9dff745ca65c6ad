import { describe, expect, it } from 'vitest'
import { survivesLostDatabaseConnections } from '../src/runtime/database-connection-guard.ts'

describe('the process guard against stray database connection errors', () => {
  it('logs a lost connection at warn and lets the process live', () => {
    const lines: string[] = []
    const guard = survivesLostDatabaseConnections((line) => lines.push(line))
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    expect(() => guard(reset)).not.toThrow()
    expect(() => guard(Object.assign(new Error('terminating connection'), { code: '57P01' }))).not.toThrow()
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { level: 'warn', msg: 'database connection lost outside a request', code: 'ECONNRESET' },
      { level: 'warn', code: '57P01' },
    ])
    expect(lines.join('\n')).not.toContain('at ')
  })

  it('rethrows anything else, so that a real bug still ends the process', () => {
    const guard = survivesLostDatabaseConnections(() => {})
    const bug = new TypeError('x is not a function')
    expect(() => guard(bug)).toThrow(bug)
    expect(() => guard(Object.assign(new Error('duplicate key'), { code: '23505' }))).toThrow('duplicate key')
  })
})
