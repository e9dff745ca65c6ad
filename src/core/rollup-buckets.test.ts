import { describe, expect, it } from 'vitest'
import { dyadicBuckets, HOUR_MS, planWindow, ROLLUP_MAX_LEVEL } from './rollup-buckets.ts'

// How an incident report window splits between the rollups and the raw trail. The report read this way is
// compared with the full scan on PostgreSQL in test/incident-rollups.test.ts; these are the edges.

const hour = (h: number) => new Date(h * HOUR_MS)
const buckets = (from: number, to: number, maxLevel?: number) => dyadicBuckets(from, to, maxLevel).map((b) => [b.level, b.start.getTime() / HOUR_MS])

describe('dyadicBuckets', () => {
  it('covers the hours exactly with the largest aligned bucket at each position', () => {
    expect(buckets(0, 5)).toEqual([[2, 0], [0, 4]])
    expect(buckets(1, 8)).toEqual([[0, 1], [1, 2], [2, 4]])
    expect(buckets(3, 13)).toEqual([[0, 3], [2, 4], [2, 8], [0, 12]])
  })

  it('takes a bucket that ends exactly at the end of the range', () => {
    expect(buckets(0, 2)).toEqual([[1, 0]])
    expect(buckets(8, 16)).toEqual([[3, 8]])
    expect(buckets(5, 6)).toEqual([[0, 5]])
  })

  it('never goes above the top level', () => {
    expect(ROLLUP_MAX_LEVEL).toBe(10)
    expect(buckets(0, 4096)).toEqual([[10, 0], [10, 1024], [10, 2048], [10, 3072]])
    expect(buckets(0, 8, 1)).toEqual([[1, 0], [1, 2], [1, 4], [1, 6]])
  })

  it('answers nothing for an empty range', () => {
    expect(buckets(4, 4)).toEqual([])
    expect(buckets(5, 4)).toEqual([])
  })
})

describe('planWindow', () => {
  const folded = { validFrom: hour(0), foldedUntil: hour(100) }

  it('answers nothing for an empty or reversed window', () => {
    expect(planWindow(hour(3), hour(3), folded)).toEqual({ buckets: [], raw: [] })
    expect(planWindow(hour(4), hour(3), folded)).toEqual({ buckets: [], raw: [] })
  })

  it('reads everything raw without a folded range', () => {
    expect(planWindow(hour(3), hour(9), null)).toEqual({ buckets: [], raw: [{ from: hour(3), to: hour(9) }] })
  })

  it('reads an aligned window wholly from the rollups', () => {
    expect(planWindow(hour(8), hour(16), folded)).toEqual({ buckets: [{ level: 3, start: hour(8) }], raw: [] })
  })

  it('reads the partial hours at both ends raw, the whole hours between from the rollups', () => {
    const from = new Date(hour(3).getTime() + 60_000)
    const to = new Date(hour(6).getTime() + 1)
    expect(planWindow(from, to, folded)).toEqual({
      buckets: [{ level: 1, start: hour(4) }],
      raw: [{ from, to: hour(4) }, { from: hour(6), to }],
    })
  })

  it('reads raw what lies outside the folded range', () => {
    const range = { validFrom: hour(10), foldedUntil: hour(12) }
    expect(planWindow(hour(8), hour(16), range)).toEqual({
      buckets: [{ level: 1, start: hour(10) }],
      raw: [{ from: hour(8), to: hour(10) }, { from: hour(12), to: hour(16) }],
    })
    // A folded range that starts or ends inside an hour holds only the whole hours within it.
    const partial = { validFrom: new Date(hour(10).getTime() + 1), foldedUntil: new Date(hour(13).getTime() - 1) }
    expect(planWindow(hour(8), hour(16), partial)).toEqual({
      buckets: [{ level: 0, start: hour(11) }],
      raw: [{ from: hour(8), to: hour(11) }, { from: hour(12), to: hour(16) }],
    })
  })

  it('reads raw a window with no whole folded hour in it', () => {
    const inside = { from: new Date(hour(3).getTime() + 1), to: new Date(hour(4).getTime() - 1) }
    expect(planWindow(inside.from, inside.to, folded)).toEqual({ buckets: [], raw: [inside] })
    // Exactly one whole hour is enough for a bucket; none at all is not.
    expect(planWindow(hour(3), hour(4), folded).buckets).toEqual([{ level: 0, start: hour(3) }])
    expect(planWindow(hour(100), hour(102), folded)).toEqual({ buckets: [], raw: [{ from: hour(100), to: hour(102) }] })
    expect(planWindow(hour(99), hour(102), folded)).toEqual({ buckets: [{ level: 0, start: hour(99) }], raw: [{ from: hour(100), to: hour(102) }] })
    // Across an hour boundary but with no whole hour inside: one raw range, not split at the boundary.
    const across = { from: new Date(hour(3).getTime() + 1), to: new Date(hour(4).getTime() + 1) }
    expect(planWindow(across.from, across.to, folded)).toEqual({ buckets: [], raw: [across] })
  })
})
