/**
 * The time buckets of the incident rollups (migrations/20261204040100_create_incident_rollups.sql): level k
 * covers 2^k hours starting at a multiple of 2^k hours since the epoch, up to ROLLUP_MAX_LEVEL. Pure.
 */

export const HOUR_MS = 3_600_000
export const ROLLUP_MAX_LEVEL = 10

export interface RollupBucket {
  level: number
  start: Date
}

/** How a report window splits: rolled-up buckets for its whole folded hours, raw ranges for the rest. */
export interface WindowPlan {
  buckets: RollupBucket[]
  /** Half-open ranges [from, to) read from the trail: the partial hours at the ends, and unfolded hours. */
  raw: { from: Date; to: Date }[]
}

/**
 * The fewest aligned buckets whose union is exactly the whole hours [fromHour, toHour) (epoch hours):
 * at each position the largest level that starts there and ends inside. At most two per level.
 */
export function dyadicBuckets(fromHour: number, toHour: number, maxLevel = ROLLUP_MAX_LEVEL): RollupBucket[] {
  const buckets: RollupBucket[] = []
  let at = fromHour
  while (at < toHour) {
    let level = 0
    while (level < maxLevel && at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= toHour) level++
    buckets.push({ level, start: new Date(at * HOUR_MS) })
    at += 2 ** level
  }
  return buckets
}

/**
 * Splits [from, to) into the buckets the rollups hold for it (the whole hours inside the folded range
 * [validFrom, foldedUntil)) and the raw ranges around them. Without a folded range, everything is raw.
 */
export function planWindow(from: Date, to: Date, folded: { validFrom: Date; foldedUntil: Date } | null): WindowPlan {
  if (to.getTime() <= from.getTime()) return { buckets: [], raw: [] }
  if (!folded) return { buckets: [], raw: [{ from, to }] }
  const firstWhole = Math.max(Math.ceil(from.getTime() / HOUR_MS), Math.ceil(folded.validFrom.getTime() / HOUR_MS))
  const endWhole = Math.min(Math.floor(to.getTime() / HOUR_MS), Math.floor(folded.foldedUntil.getTime() / HOUR_MS))
  if (firstWhole >= endWhole) return { buckets: [], raw: [{ from, to }] }
  const raw: { from: Date; to: Date }[] = []
  const rolledFrom = new Date(firstWhole * HOUR_MS)
  const rolledTo = new Date(endWhole * HOUR_MS)
  if (from < rolledFrom) raw.push({ from, to: rolledFrom })
  if (rolledTo < to) raw.push({ from: rolledTo, to })
  return { buckets: dyadicBuckets(firstWhole, endWhole), raw }
}
