import { describe, expect, it } from 'vitest'
import { isEventType } from './event-types.ts'

describe('isEventType', () => {
  it('knows the catalog\'s event types and nothing else, inherited names included', () => {
    expect(isEventType('login_failed')).toBe(true)
    expect(isEventType('account_locked')).toBe(true)
    expect(isEventType('login_exploded')).toBe(false)
    expect(isEventType('toString')).toBe(false)
    expect(isEventType('')).toBe(false)
  })
})
