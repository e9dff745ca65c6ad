import { describe, expect, it } from 'vitest'
import {
  ANCHORS,
  checkpointSignatureProblem,
  checkpointsInCefLines,
  checkpointSigningInput,
  formatCheckpointToken,
  fromBase64Url,
  parseCheckpointToken,
  signCheckpoint,
  toBase64Url,
  type CheckpointSigner,
  type CheckpointVerifier,
  type SignedCheckpoint,
} from './checkpoint.ts'

// Signing and verifying through the interfaces, and the edges of the checkpoint token a SIEM carries.

const cp: SignedCheckpoint = {
  tenantId: 'acme-1',
  shard: 3,
  seq: 120,
  chainHash: 'ab'.repeat(32),
  signedAt: '2026-12-01T10:00:00.123Z',
  keyId: 'kQ3x-_Zz09',
  signature: 'c2ln',
}

const tokenWith = (parts: Partial<Record<'tenant' | 'shard' | 'seq' | 'hash' | 'at' | 'key' | 'sig', string>>) =>
  ['atcp1', parts.tenant ?? 'acme-1', parts.shard ?? '3', parts.seq ?? '120', parts.hash ?? 'ab'.repeat(32), parts.at ?? '1796119200123', parts.key ?? 'kQ3x-_Zz09', parts.sig ?? 'c2ln'].join('.')

describe('signCheckpoint', () => {
  it('puts the signer key id into the statement, signs exactly the signing input of that statement, and encodes the signature as base64url', async () => {
    const signed: Uint8Array[] = []
    const signer: CheckpointSigner = {
      keyId: 'key-2',
      async sign(message) {
        signed.push(message)
        return Uint8Array.of(0xfb, 0xff, 0xbf)
      },
    }
    const statement = { tenantId: 'acme-1', shard: 1, seq: 7, chainHash: 'cd'.repeat(32), signedAt: '2026-12-01T10:00:00.000Z' }
    const result = await signCheckpoint(signer, statement)
    expect(result).toEqual({ ...statement, keyId: 'key-2', signature: '-_-_' })
    expect(signed).toEqual([checkpointSigningInput({ ...statement, keyId: 'key-2' })])
  })
})

describe('checkpointSignatureProblem', () => {
  function verifierAnswering(answer: 'unknown_key' | 'bad_signature' | null) {
    const calls: [string, Uint8Array, Uint8Array][] = []
    const verifier: CheckpointVerifier = {
      keyIds: ['kQ3x-_Zz09'],
      async verify(keyId, message, signature) {
        calls.push([keyId, message, signature])
        return answer
      },
    }
    return { verifier, calls }
  }

  it('asks the verifier about the checkpoint key, its signing input and its decoded signature, and returns its answer', async () => {
    for (const answer of [null, 'unknown_key', 'bad_signature'] as const) {
      const { verifier, calls } = verifierAnswering(answer)
      expect(await checkpointSignatureProblem(verifier, cp)).toBe(answer)
      expect(calls).toEqual([['kQ3x-_Zz09', checkpointSigningInput(cp), new TextEncoder().encode('sig')]])
    }
  })

  it('calls a signature that is not base64url bad without asking the verifier', async () => {
    const { verifier, calls } = verifierAnswering(null)
    expect(await checkpointSignatureProblem(verifier, { ...cp, signature: 'c2l+' })).toBe('bad_signature')
    expect(calls).toEqual([])
  })
})

describe('checkpoint token edges', () => {
  it('names the three anchors a checkpoint is compared with', () => {
    expect(ANCHORS).toEqual(['postgresql', 'docstore', 'siem'])
  })

  it('reads the signing time back to the millisecond', () => {
    expect(formatCheckpointToken(cp)).toBe(tokenWith({}))
    expect(parseCheckpointToken(tokenWith({}))).toEqual(cp)
  })

  it('takes shards of up to 5 digits and positions and times of up to 15, digits only', () => {
    expect(parseCheckpointToken(tokenWith({ shard: '99999', seq: '999999999999999', at: '999999999999999' }))).toMatchObject({ shard: 99_999, seq: 999_999_999_999_999 })
    for (const bad of [{ shard: '100000' }, { shard: 'x3' }, { shard: '3x' }, { shard: '' }, { seq: '1000000000000000' }, { seq: 'x1' }, { seq: '1x' }, { at: '1000000000000000' }, { at: 'x1' }, { at: '1x' }]) {
      expect(parseCheckpointToken(tokenWith(bad)), JSON.stringify(bad)).toBeNull()
    }
  })

  it('takes a chain hash of exactly 64 lower-case hex digits', () => {
    for (const hash of ['ab'.repeat(32).toUpperCase(), 'a'.repeat(63), 'a'.repeat(65), `x${'a'.repeat(64)}`, `${'a'.repeat(64)}x`]) {
      expect(parseCheckpointToken(tokenWith({ hash })), hash).toBeNull()
    }
  })

  it('takes tenant, key id and signature only in the token alphabet, never empty', () => {
    for (const part of ['tenant', 'key', 'sig'] as const) {
      for (const bad of ['', 'a+b', '+ab', 'ab+', 'a b']) {
        expect(parseCheckpointToken(tokenWith({ [part]: bad })), `${part} ${JSON.stringify(bad)}`).toBeNull()
      }
    }
  })

  it('finds a token right after the header pipe or any whitespace, never inside another key', () => {
    const token = formatCheckpointToken(cp)
    const header = 'CEF:0|authtrail|authtrail|0.1.0|chain_checkpoint|Chain checkpoint signed|1|'
    expect(checkpointsInCefLines([`${header}flexString1=${token} act=chain_checkpoint`])).toEqual([cp])
    expect(checkpointsInCefLines([`${header}act=chain_checkpoint\tflexString1=${token}`])).toEqual([cp])
    expect(checkpointsInCefLines([`${header}act=chain_checkpoint xflexString1=${token}`])).toEqual([])
    // Some exports write the extension alone, one record per line.
    expect(checkpointsInCefLines([`flexString1=${token} act=chain_checkpoint`])).toEqual([cp])
    expect(checkpointsInCefLines([`${header}act=chain_checkpoint flexString1=atcp1.not.a.token`, `${header}act=chain_checkpoint`])).toEqual([])
  })
})

describe('base64url edges', () => {
  it('writes the URL alphabet without padding, and reads only that', () => {
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff))).toBe('-_8')
    expect(fromBase64Url('-_8')).toEqual(Uint8Array.of(0xfb, 0xff))
    expect(fromBase64Url('')).toEqual(new Uint8Array(0))
    for (const bad of ['-_8=', '+_8', '-/8', 'a', 'abcde', ' ab']) expect(fromBase64Url(bad), bad).toBeNull()
  })
})
