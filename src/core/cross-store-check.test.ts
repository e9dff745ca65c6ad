import { describe, expect, it } from 'vitest'
import type { ChainedEvent, UnsequencedEvent } from './auth-event.ts'
import { appendToChain, genesisHash } from './chain.ts'
import { compareEventCopies, differingFields } from './cross-store-check.ts'

const tenant = '0193a6f2-0000-7000-8000-0000000000aa'

function chain(shard: number, count: number, expiresAt = '2027-11-23T10:00:00.000Z'): ChainedEvent[] {
  const events: UnsequencedEvent[] = Array.from({ length: count }, (_, i) => ({
    id: `0193a6f2-0000-7000-8000-${String(shard * 100 + i).padStart(12, '0')}`,
    tenant_id: tenant,
    organisation_id: null,
    event_type: 'login_failed',
    channel: 'web',
    user_id: null,
    identifier: 'bob@example.com',
    ip: '192.0.2.1',
    user_agent: null,
    device_id: null,
    occurred_at: new Date(Date.UTC(2026, 10, 23, 10, 0, i)).toISOString(),
    outcome: 'failure',
    reason: 'invalid_credentials',
    risk: { score: 10, signals: [] },
    metadata: { attempt: i, tags: { a: 1, b: 2 } },
    token_jti: null,
    actor_id: null,
    expires_at: expiresAt,
  }))
  return appendToChain(events, { shard, lastSeq: 0, headHash: genesisHash(tenant, shard) }).chained
}

describe('compareEventCopies', () => {
  it('finds nothing wrong with faithful copies, in any order and with any key order', () => {
    const recorded = [...chain(0, 3), ...chain(1, 2)]
    const copies = recorded.map((e) => ({ ...e, metadata: { tags: { b: 2, a: 1 }, attempt: e.metadata.attempt! } })).reverse()
    expect(compareEventCopies(recorded, copies)).toEqual({ missing: [], extra: [], altered: [], expired: [], consistent: true })
  })

  it('reports missing and extra events by id, shard and seq, in chain order', () => {
    const recorded = [...chain(1, 3), ...chain(0, 2)]
    const stray = chain(2, 1)[0]!
    const copies = [recorded[0]!, recorded[4]!, stray]
    const report = compareEventCopies(recorded, copies)
    expect(report.missing).toEqual([
      { eventId: recorded[3]!.id, shard: 0, seq: 1 },
      { eventId: recorded[1]!.id, shard: 1, seq: 2 },
      { eventId: recorded[2]!.id, shard: 1, seq: 3 },
    ])
    expect(report.extra).toEqual([{ eventId: stray.id, shard: 2, seq: 1 }])
    expect(report.consistent).toBe(false)
  })

  it('names each altered field: canonical fields, single digests and chain links', () => {
    const recorded = chain(0, 4)
    const copies = recorded.map((e) => ({ ...e }))
    copies[0] = { ...copies[0]!, occurred_at: '2026-11-23T09:59:59.000Z', metadata: { attempt: 0, tags: { a: 1, b: 3 } } }
    copies[1] = { ...copies[1]!, digests: { ...copies[1]!.digests, sha3_256: '0'.repeat(64) } }
    copies[2] = { ...copies[2]!, chain_hash: 'f'.repeat(64), prev_hash: 'e'.repeat(64) }
    copies[3] = { ...copies[3]!, seq: 9 }
    const report = compareEventCopies(recorded, copies)
    expect(report.altered).toEqual([
      { eventId: recorded[0]!.id, shard: 0, seq: 1, fields: ['metadata', 'occurred_at'] },
      { eventId: recorded[1]!.id, shard: 0, seq: 2, fields: ['digests.sha3_256'] },
      { eventId: recorded[2]!.id, shard: 0, seq: 3, fields: ['chain_hash', 'prev_hash'] },
      { eventId: recorded[3]!.id, shard: 0, seq: 4, fields: ['seq'] },
    ])
    expect(report.missing).toEqual([])
  })

  it('notices a field dropped from or added to the copy', () => {
    const [event] = chain(0, 1)
    const { reason: _, ...dropped } = event!
    expect(differingFields(event!, dropped as ChainedEvent)).toEqual(['reason'])
    expect(differingFields(event!, { ...event!, smuggled: 1 } as ChainedEvent)).toEqual(['smuggled'])
    expect(differingFields(event!, { ...event!, risk: undefined } as unknown as ChainedEvent)).toEqual(['risk'])
  })

  it('with `now`, counts events gone from one side after their expiry as expired, not missing or extra', () => {
    const old = chain(0, 2, '2026-12-01T00:00:00.000Z')
    const young = chain(1, 1, '2027-12-01T00:00:00.000Z')
    const now = new Date('2027-01-01T00:00:00.000Z')
    const report = compareEventCopies([old[0]!, ...young], [old[1]!], { now })
    expect(report.expired.map((p) => p.eventId)).toEqual([old[0]!.id, old[1]!.id])
    expect(report.missing.map((p) => p.eventId)).toEqual([young[0]!.id])
    expect(report.extra).toEqual([])
    expect(compareEventCopies([old[0]!], []).missing).toHaveLength(1)
  })

  it('is consistent only when nothing is missing, extra or altered: any one of them alone makes it inconsistent', () => {
    const recorded = chain(0, 3, '2026-12-01T00:00:00.000Z')
    const now = new Date('2027-01-01T00:00:00.000Z')
    const onlyAltered = compareEventCopies(recorded, [recorded[0]!, recorded[1]!, { ...recorded[2]!, outcome: 'success' }])
    expect(onlyAltered).toMatchObject({ missing: [], extra: [], consistent: false })
    expect(onlyAltered.altered).toHaveLength(1)
    const onlyMissing = compareEventCopies(recorded, recorded.slice(0, 2))
    expect(onlyMissing).toMatchObject({ extra: [], altered: [], consistent: false })
    expect(onlyMissing.missing).toHaveLength(1)
    const onlyExtra = compareEventCopies(recorded.slice(0, 2), recorded)
    expect(onlyExtra).toMatchObject({ missing: [], altered: [], consistent: false })
    expect(onlyExtra.extra).toHaveLength(1)
    // Retention on one side only is not a fault.
    const onlyExpired = compareEventCopies(recorded, recorded.slice(0, 2), { now })
    expect(onlyExpired).toMatchObject({ missing: [], extra: [], altered: [], consistent: true })
    expect(onlyExpired.expired).toHaveLength(1)
  })

  it('counts an event as expired from the instant of its expires_at, not before', () => {
    const [event] = chain(0, 1, '2027-01-01T00:00:00.000Z')
    expect(compareEventCopies([event!], [], { now: new Date('2027-01-01T00:00:00.000Z') }).expired).toHaveLength(1)
    expect(compareEventCopies([event!], [], { now: new Date('2026-12-31T23:59:59.999Z') }).missing).toHaveLength(1)
    // An unreadable expires_at never makes an event expired.
    const [undated] = chain(0, 1, 'not a date')
    expect(compareEventCopies([undated!], [], { now: new Date('2027-01-01T00:00:00.000Z') }).missing).toHaveLength(1)
  })

  it('orders reports by shard, then seq, then event id', () => {
    const a = chain(1, 2)
    const b = chain(0, 2)
    const twin = { ...b[1]!, id: '0193a6f2-0000-7000-8000-000000000000' }
    const report = compareEventCopies([...a, ...b, twin], [])
    expect(report.missing.map((p) => [p.shard, p.seq, p.eventId])).toEqual([
      [0, 1, b[0]!.id],
      [0, 2, twin.id],
      [0, 2, b[1]!.id],
      [1, 1, a[0]!.id],
      [1, 2, a[1]!.id],
    ])
    // Two events at one position come out in the order of their ids whichever the store gave first.
    for (const given of [[twin, b[1]!], [b[1]!, twin]]) {
      expect(compareEventCopies(given, []).missing.map((p) => p.eventId)).toEqual([twin.id, b[1]!.id])
      expect(compareEventCopies([], given).extra.map((p) => p.eventId)).toEqual([twin.id, b[1]!.id])
    }
  })

  it('orders every list of the report the same way, whatever order the stores answered in', () => {
    const a = chain(1, 2)
    const b = chain(0, 2)
    const twin = { ...b[1]!, id: '0193a6f2-0000-7000-7000-000000000009' }
    const order = (positions: { shard: number; seq: number; eventId: string }[]) => positions.map((p) => [p.shard, p.seq, p.eventId])
    const expected = [[0, 1, b[0]!.id], [0, 2, twin.id], [0, 2, b[1]!.id], [1, 1, a[0]!.id], [1, 2, a[1]!.id]]
    const shuffled = [a[1]!, b[1]!, a[0]!, twin, b[0]!]
    expect(order(compareEventCopies([], shuffled).extra)).toEqual(expected)
    expect(order(compareEventCopies([], shuffled, { now: new Date('2030-01-01T00:00:00.000Z') }).expired)).toEqual(expected)
    const altered = compareEventCopies(shuffled, shuffled.map((e) => ({ ...e, outcome: 'success' as const })))
    expect(order(altered.altered)).toEqual(expected)
  })

  it('compares values a copy cannot canonicalise without throwing', () => {
    const [event] = chain(0, 1)
    const odd = { ...event!, metadata: { n: Number.NaN } } as unknown as ChainedEvent
    expect(differingFields(event!, odd)).toEqual(['metadata'])
    expect(differingFields(odd, { ...odd })).toEqual([])
    // Two such values still compare by what they hold.
    const big = (n: bigint) => ({ ...event!, seq: n }) as unknown as ChainedEvent
    expect(differingFields(big(1n), big(2n))).toEqual(['seq'])
    expect(differingFields(big(1n), big(1n))).toEqual([])
  })

  it('compares digests digest by digest, and a digests value that is not an object as a whole', () => {
    const [event] = chain(0, 1)
    const { sha512: _, ...twoDigests } = event!.digests
    expect(differingFields(event!, { ...event!, digests: twoDigests } as unknown as ChainedEvent)).toEqual(['digests.sha512'])
    expect(differingFields(event!, { ...event!, digests: null } as unknown as ChainedEvent)).toEqual(['digests'])
    expect(differingFields(event!, { ...event!, digests: [event!.digests.sha256] } as unknown as ChainedEvent)).toEqual(['digests'])
    expect(differingFields(event!, { ...event!, digests: 'tampered' } as unknown as ChainedEvent)).toEqual(['digests'])
  })

  it('names the differing digests in sorted order, whatever order either side holds them in', () => {
    const [event] = chain(0, 1)
    const { sha256, sha512, sha3_256 } = event!.digests
    const reordered = { ...event!, digests: { sha512, sha3_256, sha256 } } as ChainedEvent
    const changed = { ...event!, digests: { sha512: '0'.repeat(128), sha3_256: '0'.repeat(64), sha256: '0'.repeat(64) } } as ChainedEvent
    expect(differingFields(reordered, changed)).toEqual(['digests.sha256', 'digests.sha3_256', 'digests.sha512'])
    expect(differingFields(changed, reordered)).toEqual(['digests.sha256', 'digests.sha3_256', 'digests.sha512'])
  })
})
