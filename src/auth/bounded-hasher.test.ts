import { describe, expect, it } from 'vitest'
import { createBoundedHasher, HashQueueFullError } from './bounded-hasher.ts'
import type { PasswordHasher } from './password-hasher.ts'

/** A hasher whose verifications wait until `open()`. */
function gated(): PasswordHasher & { open(): void; started: number } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  const h = {
    started: 0,
    open: () => open(),
    hash: async () => 'phc',
    verify: async () => {
      h.started++
      await opened
      return true
    },
  }
  return h
}

describe('createBoundedHasher: reservations before the reads', () => {
  it('grants as many reservations as the queue holds, refuses the next at once, and counts a released one free again', () => {
    const hasher = createBoundedHasher(gated(), { concurrency: 1, queue: 2 })
    const held = [hasher.reserve(), hasher.reserve(), hasher.reserve()]
    expect(held.every((r) => r !== null)).toBe(true)
    expect(hasher.reserve()).toBeNull()
    held[0]!.release()
    held[0]!.release() // idempotent: frees one place, not two
    const again = hasher.reserve()
    expect(again).not.toBeNull()
    expect(hasher.reserve()).toBeNull()
    for (const r of [again, held[1], held[2]]) r!.release()
    expect(hasher.pending()).toBe(0)
  })

  it('nothing is pending once every reservation is released, however the estimate moved while they overlapped', () => {
    // Rounds of four attempts that end without hashing (a campaign on locked accounts), the last of each still
    // reading while the next round reserves: each reservation counts by a different estimate, and the shares
    // summed and subtracted in another order must still come back to nothing (they left 1 pending before).
    const hasher = createBoundedHasher(gated(), { concurrency: 4, queue: 64 })
    let reading: ReturnType<typeof hasher.reserve> = null
    for (let round = 0; round < 6; round++) {
      const attempts = [hasher.reserve(), hasher.reserve(), hasher.reserve(), hasher.reserve()]
      reading?.release()
      reading = attempts.pop()!
      for (const attempt of attempts) attempt!.release()
    }
    reading!.release()
    expect(hasher.pending()).toBe(0)
  })

  it('a reservation verifies in its own place; plain verifications are refused while reservations fill the queue', async () => {
    const inner = gated()
    const hasher = createBoundedHasher(inner, { concurrency: 1, queue: 0 })
    const reservation = hasher.reserve()!
    await expect(hasher.verify('phc', 'pw')).rejects.toBeInstanceOf(HashQueueFullError)
    const verified = reservation.verify('phc', 'pw')
    await expect.poll(() => inner.started).toBe(1)
    expect(hasher.reserve()).toBeNull()
    inner.open()
    expect(await verified).toBe(true)
    reservation.release()
    expect(hasher.pending()).toBe(0)
    expect(hasher.reserve()).not.toBeNull()
  })

  it('after attempts that did not hash (locked, throttled), a reservation counts little and is granted while every place hashes', async () => {
    const inner = gated()
    const hasher = createBoundedHasher(inner, { concurrency: 1, queue: 0 })
    // At start-up every attempt is assumed to hash: with the one place hashing, the next is refused.
    const filler = hasher.reserve()!
    const hashing = filler.verify('phc', 'pw')
    expect(hasher.reserve()).toBeNull()
    // Forty attempts that gave their place back without hashing teach the queue that they barely count.
    inner.open()
    await hashing
    filler.release()
    for (let i = 0; i < 40; i++) hasher.reserve()!.release()
    const busy = hasher.reserve()!
    await busy.verify('phc', 'pw') // holds the one place from now on
    const unlikelyToHash = hasher.reserve()
    expect(unlikelyToHash).not.toBeNull()
    // Should it hash after all, there is no place: refused then.
    await expect(unlikelyToHash!.verify('phc', 'pw')).rejects.toBeInstanceOf(HashQueueFullError)
    unlikelyToHash!.release()
    busy.release()
    expect(hasher.pending()).toBe(0)
  })
})
