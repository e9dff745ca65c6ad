import { isIP } from 'node:net'
import type { Channel } from '../core/event-types.ts'
import type { RequestOrigin } from '../audit/record-events.ts'
import type { AppContext, ClientAddressResolver } from './app-env.ts'

const MAX_USER_AGENT = 512

/** Normalises an address so the text that is hashed is stable: IPv4-mapped IPv6 becomes IPv4. */
export function normalizeIp(raw: string | null | undefined): string | null {
  if (!raw) return null
  let ip = raw.trim()
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) ip = ip.slice(7)
  const version = isIP(ip)
  if (version === 0) return null
  return version === 6 ? ip.toLowerCase() : ip
}

/** Reads where a request came from, for the channel it arrived on (see requestOrigin). */
export type OriginReader = (c: AppContext, channel: Channel, deviceId?: string | null) => RequestOrigin

/** The runtime's address resolver with the proxy setting, as one reader the routes take. */
export function createOriginReader(resolveAddress: ClientAddressResolver, trustProxy: boolean): OriginReader {
  return (c, channel, deviceId = null) => requestOrigin(c, resolveAddress, trustProxy, channel, deviceId)
}

/**
 * The client's address and user agent. X-Forwarded-For is believed only behind a trusted proxy: otherwise
 * an attacker would choose the IP that the audit trail records.
 */
export function requestOrigin(
  c: AppContext,
  resolveAddress: ClientAddressResolver,
  trustProxy: boolean,
  channel: Channel,
  deviceId: string | null = null,
): RequestOrigin {
  const forwarded = trustProxy ? c.req.header('x-forwarded-for')?.split(',')[0] : undefined
  const userAgent = c.req.header('user-agent')?.slice(0, MAX_USER_AGENT) ?? null
  return {
    ip: normalizeIp(forwarded ?? resolveAddress(c)),
    userAgent: userAgent || null,
    deviceId,
    channel,
  }
}
