import { describe, expect, it } from 'vitest'
import {
  checkpointDue,
  checkpointsInCefLines,
  checkpointSigningInput,
  formatCheckpointToken,
  fromBase64Url,
  parseCheckpointToken,
  toBase64Url,
  type SignedCheckpoint,
} from './checkpoint.ts'

const cp: SignedCheckpoint = {
  tenantId: '0194a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  shard: 3,
  seq: 120,
  chainHash: 'ab'.repeat(32),
  signedAt: '2026-12-01T10:00:00.123Z',
  keyId: 'kQ3x-_Zz09',
  signature: toBase64Url(new Uint8Array(64).fill(7)),
}

describe('checkpoint signing input', () => {
  it('is canonical JSON of every field but the signature, under a versioned label', () => {
    expect(new TextDecoder().decode(checkpointSigningInput(cp))).toBe(
      `{"chain_hash":"${'ab'.repeat(32)}","key_id":"kQ3x-_Zz09","seq":120,"shard":3,"signed_at":"2026-12-01T10:00:00.123Z","tenant_id":"${cp.tenantId}","v":"authtrail/checkpoint/v2"}`,
    )
  })

  it('changes with each field', () => {
    const base = checkpointSigningInput(cp)
    for (const change of [{ seq: 121 }, { shard: 4 }, { chainHash: 'ac'.repeat(32) }, { signedAt: '2026-12-01T10:00:00.124Z' }, { keyId: 'other' }, { tenantId: 'x' }]) {
      expect(checkpointSigningInput({ ...cp, ...change })).not.toEqual(base)
    }
  })
})

describe('checkpoint token (the SIEM copy)', () => {
  it('round-trips', () => {
    const token = formatCheckpointToken(cp)
    expect(token).toMatch(/^atcp1\.[A-Za-z0-9_.-]+$/)
    expect(parseCheckpointToken(token)).toEqual(cp)
  })

  it('refuses anything else', () => {
    const token = formatCheckpointToken(cp)
    for (const bad of ['', 'atcp2' + token.slice(5), token + '.x', token.replace(/\.120\./, '.-1.'), token.replace('ab'.repeat(32), 'zz'.repeat(32)), token.replace(/\.3\./, '.3e2.')]) {
      expect(parseCheckpointToken(bad), bad).toBeNull()
    }
  })

  it('is found in received CEF lines, and only in chain_checkpoint ones', () => {
    const token = formatCheckpointToken(cp)
    const lines = [
      `<86>1 2026-12-01T10:00:00.123Z host authtrail 1 chain_checkpoint - CEF:0|authtrail|authtrail|0.1.0|chain_checkpoint|Chain checkpoint signed|1|rt=1 act=chain_checkpoint cn1=121 flexString1Label=checkpoint flexString1=${token}`,
      `<85>1 - host authtrail 1 login_failed - CEF:0|authtrail|authtrail|0.1.0|login_failed|Login failed|5|act=login_failed flexString1=${token}`,
      'garbage',
      '',
    ]
    expect(checkpointsInCefLines(lines)).toEqual([cp])
  })
})

describe('checkpointDue', () => {
  const policy = { intervalMs: 60_000, everyEvents: 100 }
  const now = new Date('2026-12-01T10:00:00Z')
  const ago = (ms: number) => new Date(now.getTime() - ms)

  it('is due for a chain with events and no checkpoint yet', () => {
    expect(checkpointDue(1, null, now, policy)).toBe(true)
    expect(checkpointDue(0, null, now, policy)).toBe(false)
  })

  it('counts neither the signed position nor its own checkpoint event as news', () => {
    expect(checkpointDue(11, { seq: 10, signedAt: ago(3_600_000) }, now, policy)).toBe(false)
    expect(checkpointDue(12, { seq: 10, signedAt: ago(3_600_000) }, now, policy)).toBe(true)
  })

  it('is due after M events or N seconds, whichever comes first', () => {
    expect(checkpointDue(11 + 99, { seq: 10, signedAt: ago(1_000) }, now, policy)).toBe(false)
    expect(checkpointDue(11 + 100, { seq: 10, signedAt: ago(1_000) }, now, policy)).toBe(true)
    expect(checkpointDue(12, { seq: 10, signedAt: ago(59_999) }, now, policy)).toBe(false)
    expect(checkpointDue(12, { seq: 10, signedAt: ago(60_000) }, now, policy)).toBe(true)
  })
})

describe('base64url', () => {
  it('round-trips every length and refuses other alphabets', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff)
      expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes)
    }
    expect(fromBase64Url('ab+/')).toBeNull()
    expect(fromBase64Url('abcde')).toBeNull()
  })
})
