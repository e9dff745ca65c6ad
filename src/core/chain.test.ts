import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { nodeCryptoDigester, nodeDigester } from '../audit/node-digester.ts'
import type { ChainedEvent, UnsequencedEvent } from './auth-event.ts'
import { canonicalJson } from './canonical-json.ts'
import { appendToChain, genesisHash, verifyChainSegment, type StoredChainedEvent } from './chain.ts'
import { constantTimeEqual, hexDigests, nobleDigester } from './digests.ts'
import { EVENT_CATEGORY, EVENT_TYPES } from './event-types.ts'

const TENANT = '01900000-0000-7000-8000-000000000001'

function draft(i: number, extra: Partial<UnsequencedEvent> = {}): UnsequencedEvent {
  return {
    id: `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    tenant_id: TENANT,
    organisation_id: null,
    event_type: 'login_failed',
    channel: 'web',
    user_id: null,
    identifier: `user${i}@example.com`,
    ip: '198.51.100.4',
    user_agent: 'ua',
    device_id: null,
    occurred_at: new Date(1_700_000_000_000 + i).toISOString(),
    outcome: 'failure',
    reason: 'invalid_credentials',
    risk: { score: 10, signals: ['x'] },
    metadata: { failed_attempts: i, nested: { b: 1, a: [1, 'ü'] } },
    token_jti: null,
    actor_id: null,
    expires_at: new Date(1_800_000_000_000).toISOString(),
    ...extra,
  }
}

function stored(e: ChainedEvent): StoredChainedEvent {
  const { digests, prev_hash, chain_hash, ...event } = e
  return {
    event,
    digestSha256: hexToBytes(digests.sha256),
    digestSha512: hexToBytes(digests.sha512),
    digestSha3_256: hexToBytes(digests.sha3_256),
    prevHash: hexToBytes(prev_hash),
    chainHash: hexToBytes(chain_hash),
  }
}

describe('canonical JSON (RFC 8785)', () => {
  it('sorts keys, formats numbers the ECMAScript way and escapes minimally', () => {
    expect(canonicalJson({ b: 1, a: [1e21, 0.000001, -0, 'é\u2028'], c: { z: null, y: true } })).toBe(
      '{"a":[1e+21,0.000001,0,"é\u2028"],"b":1,"c":{"y":true,"z":null}}',
    )
  })
})

describe('digests', () => {
  it('are the FIPS 180-4 / FIPS 202 values for "abc"', () => {
    const d = hexDigests(nobleDigester.digestBytes(new TextEncoder().encode('abc')))
    expect(d.sha256).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(d.sha512.slice(0, 32)).toBe('ddaf35a193617abacc417349ae204131')
    expect(d.sha3_256).toBe('3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532')
  })

  it('agree between @noble/hashes and node:crypto on every input', () => {
    for (const text of ['', 'abc', 'ö'.repeat(1000), JSON.stringify(draft(7))]) {
      const bytes = new TextEncoder().encode(text)
      expect(hexDigests(nodeDigester.digestBytes(bytes))).toEqual(hexDigests(nobleDigester.digestBytes(bytes)))
    }
  })

  it('agree between the one-shot hash and createHash (runtimes without the one-shot)', () => {
    const withoutOneShot = nodeCryptoDigester({ createHash })
    for (const text of ['', 'abc', 'ö'.repeat(1000), JSON.stringify(draft(7))]) {
      const bytes = new TextEncoder().encode(text)
      expect(hexDigests(withoutOneShot.digestBytes(bytes))).toEqual(hexDigests(nobleDigester.digestBytes(bytes)))
      expect(bytesToHex(withoutOneShot.sha256(bytes))).toBe(bytesToHex(nodeDigester.sha256(bytes)))
    }
  })

  it('constant-time comparison tells equal from different', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true)
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false)
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]))).toBe(false)
  })
})

describe('hash chain', () => {
  const genesis = genesisHash(TENANT, 3)
  const { chained, headHash } = appendToChain([draft(1), draft(2), draft(3)], { shard: 3, lastSeq: 0, headHash: genesis })

  it('numbers gaplessly and links each event to its predecessor', () => {
    expect(chained.map((e) => e.seq)).toEqual([1, 2, 3])
    expect(chained[0]!.prev_hash).toBe(bytesToHex(genesis))
    expect(chained[1]!.prev_hash).toBe(chained[0]!.chain_hash)
    expect(bytesToHex(headHash)).toBe(chained[2]!.chain_hash)
  })

  it('has a genesis bound to tenant and shard (same bytes as the SQL trigger computes)', () => {
    expect(bytesToHex(genesis)).toBe(bytesToHex(sha256(new TextEncoder().encode(`authtrail/chain/v1/${TENANT}/3`))))
    expect(bytesToHex(genesisHash(TENANT, 4))).not.toBe(bytesToHex(genesis))
  })

  it('verifies an intact chain, with either digester', () => {
    for (const digester of [nobleDigester, nodeDigester]) {
      const r = verifyChainSegment(chained.map(stored), { seq: 0, hash: genesis }, digester)
      expect(r).toMatchObject({ ok: true, seq: 3, count: 3 })
    }
  })

  it('names the first altered event', () => {
    const rows = chained.map(stored)
    rows[1] = { ...rows[1]!, event: { ...rows[1]!.event, outcome: 'success' } }
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis })).toMatchObject({ ok: false, break: { seq: 2, reason: 'digest_mismatch' } })
  })

  it('catches a re-hashed event by its broken link, and a gap by its sequence', () => {
    const forged = appendToChain([draft(1), { ...draft(2), outcome: 'success' }, draft(3)], { shard: 3, lastSeq: 0, headHash: genesis }).chained
    const rows = [stored(chained[0]!), stored(forged[1]!), stored(chained[2]!)]
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis })).toMatchObject({ ok: false, break: { seq: 3, reason: 'prev_hash_mismatch' } })
    expect(verifyChainSegment([stored(chained[0]!), stored(chained[2]!)], { seq: 0, hash: genesis })).toMatchObject({
      ok: false,
      break: { seq: 2, reason: 'sequence_gap' },
    })
  })
})

describe('verification of stored links and digests', () => {
  const genesis = genesisHash(TENANT, 5)
  const { chained } = appendToChain([draft(1), draft(2), draft(3)], { shard: 5, lastSeq: 0, headHash: genesis })
  const flipFirstByte = (bytes: Uint8Array) => {
    const copy = bytes.slice()
    copy[0] = copy[0]! ^ 0xff
    return copy
  }

  it('refuses a rewritten chain_hash column even when the event and its digests are intact', () => {
    const rows = chained.map(stored)
    rows[1] = { ...rows[1]!, chainHash: flipFirstByte(rows[1]!.chainHash) }
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis })).toMatchObject({ ok: false, count: 1, break: { seq: 2, reason: 'chain_hash_mismatch' } })
  })

  it('refuses the head event of a segment whose chain_hash alone was rewritten', () => {
    const rows = chained.map(stored)
    rows[2] = { ...rows[2]!, chainHash: flipFirstByte(rows[2]!.chainHash) }
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis })).toMatchObject({ ok: false, break: { seq: 3, reason: 'chain_hash_mismatch' } })
  })

  it('checks each of the three stored digests on its own', () => {
    for (const digest of ['digestSha256', 'digestSha512', 'digestSha3_256'] as const) {
      const rows = chained.map(stored)
      rows[0] = { ...rows[0]!, [digest]: flipFirstByte(rows[0]![digest]) }
      expect(verifyChainSegment(rows, { seq: 0, hash: genesis }), digest).toMatchObject({ ok: false, count: 0, break: { seq: 1, reason: 'digest_mismatch' } })
    }
  })

  it('refuses a rewritten prev_hash column, and a segment started from the wrong head', () => {
    const rows = chained.map(stored)
    rows[1] = { ...rows[1]!, prevHash: flipFirstByte(rows[1]!.prevHash) }
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis })).toMatchObject({ ok: false, break: { seq: 2, reason: 'prev_hash_mismatch' } })
    expect(verifyChainSegment(chained.map(stored), { seq: 0, hash: genesisHash(TENANT, 6) })).toMatchObject({
      ok: false,
      break: { seq: 1, reason: 'prev_hash_mismatch' },
    })
  })

  it('starts each chain from SHA-256 of a label naming its tenant and shard', () => {
    const label = (tenant: string, shard: number) => bytesToHex(sha256(new TextEncoder().encode(`authtrail/chain/v1/${tenant}/${shard}`)))
    expect(bytesToHex(genesisHash(TENANT, 5))).toBe(label(TENANT, 5))
    expect(bytesToHex(genesisHash('another-tenant', 0))).toBe(label('another-tenant', 0))
    expect(bytesToHex(genesisHash(TENANT, 5, nodeDigester))).toBe(label(TENANT, 5))
  })

  it('checks the recomputed chain against anchors held outside the table, naming the first anchored position that differs', () => {
    const rows = chained.map(stored)
    const anchorsAt = (entries: [number, string][]) => new Map(entries.map(([seq, hex]) => [seq, hexToBytes(hex)]))
    // Anchors that agree, and one past the segment, change nothing.
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis }, nobleDigester, anchorsAt([[2, chained[1]!.chain_hash], [9, 'ab'.repeat(32)]]))).toMatchObject({ ok: true, seq: 3, count: 3 })
    // A chain rebuilt consistently still breaks where an anchor says otherwise.
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis }, nobleDigester, anchorsAt([[1, chained[0]!.chain_hash], [3, 'ab'.repeat(32)]]))).toEqual({
      ok: false,
      break: { shard: chained[2]!.shard, seq: 3, eventId: chained[2]!.id, reason: 'anchor_mismatch' },
      count: 2,
    })
  })

  it('continues from a verified head: the returned head verifies the next segment', () => {
    const first = verifyChainSegment(chained.slice(0, 2).map(stored), { seq: 0, hash: genesis })
    expect(first).toMatchObject({ ok: true, seq: 2, count: 2 })
    if (!first.ok) return
    expect(bytesToHex(first.hash)).toBe(chained[1]!.chain_hash)
    expect(verifyChainSegment(chained.slice(2).map(stored), { seq: first.seq, hash: first.hash })).toMatchObject({ ok: true, seq: 3, count: 1 })
    expect(verifyChainSegment([], { seq: 7, hash: genesis })).toEqual({ ok: true, seq: 7, hash: genesis, count: 0 })
  })

  it('names the event where a gap is found and the sequence number it expected', () => {
    const rows = [stored(chained[0]!), stored(chained[2]!)]
    expect(verifyChainSegment(rows, { seq: 0, hash: genesis })).toEqual({
      ok: false,
      count: 1,
      break: { shard: 5, seq: 2, eventId: chained[2]!.id, reason: 'sequence_gap' },
    })
  })
})

describe('event types', () => {
  it('every type has a category and every category key is a type', () => {
    expect(Object.keys(EVENT_CATEGORY).sort()).toEqual([...EVENT_TYPES].sort())
  })
})
