import { describe, expect, it } from 'vitest'
import { isConnectionLost, isDatabaseUnavailable, NoRowError, theOneRow } from './sqlstate.ts'

describe('theOneRow', () => {
  it('gives the first row of an answer that has one', () => {
    expect(theOneRow([{ recorded: true }], 'a lookup')).toEqual({ recorded: true })
  })

  it('refuses an answer without a row as the database being unavailable (503), not as a lost connection', () => {
    const error = (() => {
      try {
        theOneRow([], 'the login snapshot')
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(NoRowError)
    expect((error as NoRowError).message).toContain('the login snapshot')
    expect(isDatabaseUnavailable(error)).toBe(true)
    // Nothing was sent that could have committed: no lost-commit lookup is due.
    expect(isConnectionLost(error)).toBe(false)
  })
})
