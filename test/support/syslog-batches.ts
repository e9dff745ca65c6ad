import type { ChainedEvent, OutboxPayload } from '../../src/core/auth-event.ts'
import { EVENT_TYPES } from '../../src/core/event-types.ts'
import type { RsyslogReceiver } from './rsyslog.ts'

/** Values an attacker controls (identifier, user agent, device id) at their most awkward. */
export const HOSTILE = [
  'pipe|in|value',
  'equals=and\\=escaped=',
  'back\\slash\\\\ end\\',
  'new\nline\r\nand CR\r',
  'Jörg Größe ñandú',
  'emoji 😀🚀 and CJK 漢字',
  ' key=value injected suser=admin ',
  'tab\there',
]

let runCounter = 0

/** A batch of chained events of one fresh tenant, so that a test finds its own lines in the shared file. */
export function makeBatch(count: number, overrides: (i: number) => Partial<ChainedEvent> = () => ({})): OutboxPayload[] {
  const tenant = `t${process.pid}-${++runCounter}`
  return Array.from({ length: count }, (_, i) => {
    const hostile = HOSTILE[i % HOSTILE.length]!
    const event: ChainedEvent = {
      id: `${tenant}-${String(i).padStart(6, '0')}`,
      tenant_id: tenant,
      organisation_id: i % 3 === 0 ? null : `org ${hostile}`,
      shard: i % 4,
      seq: i + 1,
      event_type: EVENT_TYPES[i % EVENT_TYPES.length]!,
      channel: 'web',
      user_id: i % 2 === 0 ? `user-${i}` : null,
      identifier: `${hostile} #${i}`,
      ip: i % 2 === 0 ? '203.0.113.9' : '2001:db8::42',
      user_agent: i % 10 === 7 ? `UA ö ${'x'.repeat(3000)}` : `Mozilla/5.0 (${hostile})`,
      device_id: `dev ${hostile}`,
      occurred_at: new Date(Date.UTC(2026, 10, 23, 10, 0, 0, i)).toISOString(),
      outcome: i % 2 === 0 ? 'failure' : 'success',
      reason: i % 5 === 0 ? null : `reason ${hostile}`,
      risk: { score: i % 100, signals: [] },
      metadata: {},
      token_jti: null,
      actor_id: null,
      expires_at: '2027-11-23T10:00:00.000Z',
      digests: { sha256: '0'.repeat(64), sha512: '0'.repeat(128), sha3_256: '0'.repeat(64) },
      prev_hash: '1'.repeat(64),
      chain_hash: (i % 16).toString(16).repeat(64),
      ...overrides(i),
    }
    return { event, lockout: null }
  })
}

/** The lines of one batch's tenant, in arrival order, once `count` of them arrived. */
export async function linesOfTenant(rx: RsyslogReceiver, tenant: string, count: number, timeoutMs = 10_000): Promise<string[]> {
  const marker = ` cs1=${tenant} `
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const lines = rx.readLines().filter((l) => l.includes(marker))
    if (lines.length >= count || Date.now() > deadline) return lines
    await new Promise((r) => setTimeout(r, 10))
  }
}

