import type { Channel } from '../core/event-types.ts'
import type { RequestOrigin } from '../audit/record-events.ts'
import type { AppContext, ClientAddressResolver } from './app-env.ts'
import { headerText, resolveClientAddress, type ProxyTrust } from '../core/client-address.ts'

const MAX_USER_AGENT = 512

/** Reads where a request came from, for the channel it arrived on (see requestOrigin). */
export type OriginReader = (c: AppContext, channel: Channel, deviceId?: string | null) => RequestOrigin

/**
 * The runtime's address resolver with the proxy setting, as one reader the routes take. `true` (the
 * older TRUST_PROXY) trusts one hop: the proxy directly in front of the service.
 */
export function createOriginReader(resolveAddress: ClientAddressResolver, trust: ProxyTrust | boolean): OriginReader {
  const proxies: ProxyTrust = trust === true ? { kind: 'hops', hops: 1 } : trust === false ? { kind: 'none' } : trust
  return (c, channel, deviceId = null) => requestOrigin(c, resolveAddress, proxies, channel, deviceId)
}

/**
 * The client's address and user agent, each parsed once here. Forwarding headers are believed only as far
 * as the trusted proxies go: otherwise an attacker would choose the IP that the audit trail records.
 */
export function requestOrigin(c: AppContext, resolveAddress: ClientAddressResolver, trust: ProxyTrust, channel: Channel, deviceId: string | null = null): RequestOrigin {
  const ip = resolveClientAddress(resolveAddress(c), { forwarded: c.req.header('forwarded') ?? null, xForwardedFor: c.req.header('x-forwarded-for') ?? null }, trust)
  const userAgent = headerText(c.req.header('user-agent'))?.slice(0, MAX_USER_AGENT) ?? null
  return { ip, userAgent: userAgent || null, deviceId, channel }
}
