import type { SeededTenant } from '../support/test-app.ts'

/**
 * A short brute-force campaign replayed against a running service over HTTP, as attackers would send it
 * (their addresses given by X-Forwarded-For behind the trusted proxy): password spraying from two
 * addresses, a distributed attack on one account that locks it, and a guesser who gets in after failures.
 * What each attacker saw is kept, so that tests derive what the console must show.
 */
export const SPRAYERS = ['203.0.113.10', '203.0.113.11']
export const BOTNET = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6']
export const GUESSER = '203.0.113.50'
export const DISTRIBUTED_TARGET = 'erin@acme.test'
export const GUESSED_ACCOUNT = 'frank@acme.test'
export const ACME_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((u) => `${u}@acme.test`)
const SPRAY_TARGETS = ['alice', 'bob', 'carol', 'dave', 'frank', 'ghost1', 'ghost2'].map((u) => `${u}@acme.test`)

/** Five failures in 15 minutes lock for ten minutes: the lockout outlasts the test. */
export const CAMPAIGN_POLICY = { maxFailures: 5, windowSeconds: 900, baseLockSeconds: 600, multiplier: 2, maxLockSeconds: 3600 }

export interface Login {
  tenant: string
  identifier: string
  password: string
  ip: string
  channel?: 'web' | 'mobile'
  userAgent?: string
  deviceId?: string
}

/** One login through the service's public route; answers its status and the audit event id. */
export async function login(baseUrl: string, a: Login): Promise<{ status: number; eventId: string | null; token: string | null }> {
  const mobile = a.channel === 'mobile'
  const res = await fetch(`${baseUrl}${mobile ? '/v1/mobile/auth/login' : '/v1/auth/login'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': a.ip, 'user-agent': a.userAgent ?? 'Mozilla/5.0 (console test)' },
    body: JSON.stringify({ tenant: a.tenant, identifier: a.identifier, password: a.password, ...(mobile && { device_id: a.deviceId ?? 'device-1' }) }),
  })
  const body = (await res.json()) as { event_id?: string; access_token?: string }
  return { status: res.status, eventId: body.event_id ?? null, token: body.access_token ?? null }
}

export async function replayCampaign(baseUrl: string, acme: SeededTenant): Promise<Record<string, number[]>> {
  const seen: Record<string, number[]> = {}
  const attempt = async (a: Login) => {
    const { status } = await login(baseUrl, a)
    ;(seen[`${a.ip} ${a.identifier}`] ??= []).push(status)
    return status
  }
  const password = (identifier: string) => acme.users[identifier]!.password

  // Ordinary traffic on both channels.
  await attempt({ tenant: 'acme', identifier: 'alice@acme.test', password: password('alice@acme.test'), ip: '198.51.100.1' })
  await attempt({ tenant: 'acme', identifier: 'bob@acme.test', password: password('bob@acme.test'), ip: '198.51.100.2', channel: 'mobile', deviceId: 'ios-bob', userAgent: 'AcmeApp/3.1 iOS' })
  // Password spraying: one password per address across every account, two that do not exist included.
  for (const [i, ip] of SPRAYERS.entries()) {
    for (const identifier of SPRAY_TARGETS) await attempt({ tenant: 'acme', identifier, password: i === 0 ? 'Winter2026!' : 'Spring2026!', ip, userAgent: 'python-requests/2.31' })
  }
  // A distributed brute force on erin from six addresses: locked at the fifth failure.
  for (const [i, ip] of BOTNET.entries()) {
    await attempt({ tenant: 'acme', identifier: DISTRIBUTED_TARGET, password: `guess-${i}`, ip, channel: i < 3 ? 'web' : 'mobile', deviceId: `bot-${i}`, userAgent: `botnet-agent/${i}` })
  }
  // A guesser gets frank's password after two failures of its own (four on frank in all).
  await attempt({ tenant: 'acme', identifier: GUESSED_ACCOUNT, password: 'frank2025', ip: GUESSER, userAgent: 'curl/8.5.0' })
  await attempt({ tenant: 'acme', identifier: GUESSED_ACCOUNT, password: 'Frank2026!', ip: GUESSER, userAgent: 'curl/8.5.0' })
  await attempt({ tenant: 'acme', identifier: GUESSED_ACCOUNT, password: password(GUESSED_ACCOUNT), ip: GUESSER, userAgent: 'curl/8.5.0' })
  return seen
}
