import { describe, expect, it } from 'vitest'
import { retryDelayMs } from './retry-backoff.ts'

describe('retryDelayMs', () => {
  const policy = { baseMs: 100, maxMs: 1_000 }

  it('doubles per attempt within the upper half of the ceiling', () => {
    expect(retryDelayMs(1, policy, () => 0)).toBe(50)
    expect(retryDelayMs(1, policy, () => 1)).toBe(100)
    expect(retryDelayMs(3, policy, () => 0)).toBe(200)
    expect(retryDelayMs(3, policy, () => 1)).toBe(400)
  })

  it('never exceeds the cap, however many attempts', () => {
    expect(retryDelayMs(50, policy, () => 1)).toBe(1_000)
    expect(retryDelayMs(1_000, policy, () => 0)).toBe(500)
  })
})
