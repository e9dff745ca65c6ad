import { fileURLToPath } from 'node:url'

/** Where syslog messages go, as named by a `SYSLOG_URL`. */
export type SyslogTarget =
  | { kind: 'udp' | 'tcp' | 'tls' | 'relp' | 'relp+tls'; host: string; port: number }
  | { kind: 'file'; path: string }

/**
 * IANA ports: 514/udp syslog (RFC 5426), 6514/tcp syslog-tls (RFC 5425); 514/tcp is the usual plain TCP.
 * RELP has no IANA port; 2514 is the one rsyslog's imrelp documentation uses.
 */
const DEFAULT_PORT = { udp: 514, tcp: 514, tls: 6514, relp: 2514, 'relp+tls': 2514 } as const

/**
 * Parses `udp://host:port`, `tcp://host:port`, `tls://host:port`, `relp://host:port`,
 * `relp+tls://host:port` or `file:///absolute/path`. An IPv6
 * host is written in brackets (`tcp://[::1]:514`); a missing port takes the protocol's usual one.
 *
 * @example
 * parseSyslogUrl('tls://siem.example.com') // { kind: 'tls', host: 'siem.example.com', port: 6514 }
 */
export function parseSyslogUrl(url: string): SyslogTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`invalid SYSLOG_URL: ${url}`)
  }
  const kind = parsed.protocol.slice(0, -1)
  if (kind === 'file') {
    if (parsed.hostname !== '') throw new Error(`SYSLOG_URL file:// must name a local path (file:///path): ${url}`)
    return { kind, path: fileURLToPath(parsed) }
  }
  if (kind !== 'udp' && kind !== 'tcp' && kind !== 'tls' && kind !== 'relp' && kind !== 'relp+tls') {
    throw new Error(`SYSLOG_URL must start with relp://, relp+tls://, udp://, tcp://, tls:// or file://: ${url}`)
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') throw new Error(`SYSLOG_URL has no host: ${url}`)
  const port = parsed.port === '' ? DEFAULT_PORT[kind] : Number(parsed.port)
  if (port === 0) throw new Error(`SYSLOG_URL has port 0: ${url}`)
  return { kind, host, port }
}
