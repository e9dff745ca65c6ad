import { describe, expect, it } from 'vitest'
import { outboxPayload } from '../../test/support/outbox-payload.ts'
import type { ChainedEvent, OutboxPayload } from './auth-event.ts'
import { classifySourceAddress, formatCef } from './cef.ts'
import { checkpointsInCefLines, formatCheckpointToken, type SignedCheckpoint } from './checkpoint.ts'

// The keys whose value depends on the event: the signed checkpoint a chain_checkpoint event carries, the
// identifier as typed, and the client address.

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }

const payload = (overrides: Partial<ChainedEvent> = {}): OutboxPayload => outboxPayload({ ...({ seq: 121, event_type: 'chain_checkpoint', channel: 'system', user_id: null, identifier: null, ip: null, user_agent: null, occurred_at: '2026-12-01T10:00:00.123Z', outcome: 'success', reason: null, risk: null, expires_at: '2027-12-01T10:00:00.000Z' } as unknown as Partial<ChainedEvent>), ...overrides })

/** The extension keys and values of a line without escapes (all values here are plain). */
const extension = (line: string) => Object.fromEntries([...line.split('|').slice(7).join('|').matchAll(/(?:^| )([A-Za-z0-9]+)=(\S*)/g)].map((m) => [m[1]!, m[2]!]))

const checkpoint: SignedCheckpoint = {
  tenantId: 'acme',
  shard: 3,
  seq: 120,
  chainHash: 'f'.repeat(64),
  signedAt: '2026-12-01T10:00:00.123Z',
  keyId: 'kid-1',
  signature: 'c2lnbmF0dXJl',
}
const metadata = { checkpoint_seq: 120, chain_hash: 'f'.repeat(64), signed_at: '2026-12-01T10:00:00.123Z', key_id: 'kid-1', signature: 'c2lnbmF0dXJl' }

describe('the checkpoint a chain_checkpoint event carries', () => {
  it('is sent as flexNumber1 (the signed position) and flexString1 (the token), labelled, and reads back as the same checkpoint', () => {
    const line = formatCef(payload({ metadata }), device)
    expect(extension(line)).toMatchObject({
      flexNumber1Label: 'checkpointSeq',
      flexNumber1: '120',
      flexString1Label: 'checkpoint',
      flexString1: formatCheckpointToken(checkpoint),
    })
    expect(checkpointsInCefLines([line])).toEqual([checkpoint])
  })

  it('leaves the token out when any part of the checkpoint is missing or of the wrong type, and the position out unless it is an integer', () => {
    for (const field of Object.keys(metadata) as (keyof typeof metadata)[]) {
      for (const wrong of [undefined, field === 'checkpoint_seq' ? '120' : 7]) {
        const ext = extension(formatCef(payload({ metadata: { ...metadata, [field]: wrong } }), device))
        expect(ext.flexString1, `${field} = ${String(wrong)}`).toBeUndefined()
        expect(ext.flexString1Label).toBeUndefined()
        expect(ext.flexNumber1, `${field} = ${String(wrong)}`).toBe(field === 'checkpoint_seq' ? undefined : '120')
      }
    }
    expect(extension(formatCef(payload({ metadata: { ...metadata, checkpoint_seq: 120.5 } }), device)).flexNumber1).toBeUndefined()
  })

  it('is never read from another event type, whatever its metadata holds', () => {
    const ext = extension(formatCef(payload({ event_type: 'login_failed', outcome: 'failure', metadata }), device))
    expect(Object.keys(ext).filter((key) => key.startsWith('flexNumber1') || key.startsWith('flexString1'))).toEqual([])
  })
})

describe('the identifier as typed', () => {
  it('is sent only when the metadata holds it as text', () => {
    const base = { event_type: 'login_failed', outcome: 'failure', identifier: 'alice' } as const
    expect(extension(formatCef(payload({ ...base, metadata: { identifier_as_typed: 'Alice' } }), device))).toMatchObject({ flexString2Label: 'identifierAsTyped', flexString2: 'Alice' })
    expect(extension(formatCef(payload({ ...base, metadata: { identifier_as_typed: 42 } }), device)).flexString2).toBeUndefined()
  })
})

describe('the client address', () => {
  it('sends IPv4 to src only, IPv6 to src and c6a2, and leaves both out for what is not an address', () => {
    const keysFor = (ip: string | null) => {
      const ext = extension(formatCef(payload({ event_type: 'login_failed', outcome: 'failure', ip }), device))
      return { src: ext.src, c6a2: ext.c6a2 }
    }
    expect(keysFor('198.51.100.7')).toEqual({ src: '198.51.100.7', c6a2: undefined })
    expect(keysFor('2001:DB8::7')).toEqual({ src: '2001:db8::7', c6a2: '2001:db8::7' })
    expect(keysFor('not an address')).toEqual({ src: undefined, c6a2: undefined })
    expect(keysFor(null)).toEqual({ src: undefined, c6a2: undefined })
  })

  it('never lets URL syntax around an IPv6 address pass as the address', () => {
    // The WHATWG URL parser would read each of these as [::1]; only hex digits, colons and dots may reach it.
    for (const ip of ['a@[::1', '::1]/x[', '::1]#[', 'a@[::ffff:102:304']) expect(classifySourceAddress(ip), ip).toBeNull()
  })
})
