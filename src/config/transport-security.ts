// How a connection to an audit store is protected, read from its URL alone (no I/O): the production
// check in env.ts refuses plaintext with it, and src/db/tls-options.ts builds the client's TLS from it.

import ipaddr from 'ipaddr.js'

/** libpq's sslmode values, weakest first. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/** libpq's TLS parameters in a postgres:// URL; postgres.js reads only sslmode, so authtrail reads the rest. */
export interface PostgresTlsParameters {
  mode: SslMode
  /** sslrootcert: the CA file the server's certificate must chain to; `system` for the system's CAs. */
  rootCertFile?: string
  /** sslcert and sslkey: the client certificate and its key (PEM) for mutual TLS. */
  certFile?: string
  keyFile?: string
}

/** The parameters authtrail takes out of a postgres:// URL before postgres.js sees it. */
export const LIBPQ_TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const

interface ConnectionUrlParts {
  /** Host names or addresses as written (decoded, without brackets or port); a path for a Unix socket. */
  hosts: string[]
  params: URLSearchParams
}

/**
 * Splits a postgres:// or mongodb:// URL. Both allow several comma-separated hosts, which WHATWG URL
 * cannot parse, so the authority is taken apart by hand.
 */
export function connectionUrlParts(url: string): ConnectionUrlParts {
  const afterScheme = url.slice(url.indexOf('://') + 3)
  const authorityEnd = afterScheme.search(/[/?#]/)
  const authority = authorityEnd === -1 ? afterScheme : afterScheme.slice(0, authorityEnd)
  const hostList = authority.slice(authority.lastIndexOf('@') + 1)
  const hosts = hostList === '' ? [] : hostList.split(',').map(hostOf)
  const queryStart = url.indexOf('?')
  const query = queryStart === -1 ? '' : url.slice(queryStart + 1).split('#')[0]!
  return { hosts, params: new URLSearchParams(query) }
}

function hostOf(hostAndPort: string): string {
  const host = hostAndPort.startsWith('[') ? hostAndPort.slice(1, hostAndPort.indexOf(']')) : hostAndPort.replace(/:\d*$/, '')
  try {
    return decodeURIComponent(host)
  } catch {
    return host
  }
}

/**
 * Whether traffic to this host never leaves the machine: a Unix socket (a path), `localhost` or a loopback
 * address. Whoever can read loopback traffic or a socket already runs on the host with the rights to read
 * the process's memory and its key files, so TLS would add nothing there.
 */
export function isLocalHost(host: string): boolean {
  const h = host.toLowerCase()
  if (h.startsWith('/') || h === 'localhost') return true
  // Dotted quads and IPv6 only: a name such as 127.0.0.1.example.com is resolved, and may be anywhere.
  if (!ipaddr.IPv4.isValidFourPartDecimal(h) && !ipaddr.IPv6.isValid(h)) return false
  return ipaddr.process(h).range() === 'loopback'
}

/** The TLS parameters of a postgres:// URL, with libpq's defaults; an unknown sslmode is left to the schema. */
export function postgresTlsParameters(url: string): PostgresTlsParameters & { unknownMode?: string } {
  const { params } = connectionUrlParts(url)
  const written = params.get('sslmode')
  const rootCertFile = params.get('sslrootcert') ?? undefined
  const certFile = params.get('sslcert') ?? undefined
  const keyFile = params.get('sslkey') ?? undefined
  const files = { ...(rootCertFile !== undefined && { rootCertFile }), ...(certFile !== undefined && { certFile }), ...(keyFile !== undefined && { keyFile }) }
  if (written !== null && !(SSL_MODES as readonly string[]).includes(written)) return { mode: 'disable', unknownMode: written, ...files }
  // postgres.js, unlike libpq (prefer), connects in plaintext without sslmode; sslrootcert=system means
  // verify-full in both. libpq also verifies the chain for `require` when a root certificate is given.
  let mode: SslMode = (written as SslMode | null) ?? (rootCertFile === 'system' ? 'verify-full' : 'disable')
  if (mode === 'require' && rootCertFile !== undefined) mode = 'verify-ca'
  return { mode, ...files }
}

/** What is wrong with a postgres:// URL's TLS parameters on their own (any environment), or null. */
export function postgresTlsParameterProblem(url: string): string | null {
  const tls = postgresTlsParameters(url)
  if (tls.unknownMode !== undefined) return `sslmode=${tls.unknownMode} is not one of ${SSL_MODES.join(', ')}`
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) return 'sslcert and sslkey go together (the client certificate and its key)'
  if (tls.certFile !== undefined && (tls.mode === 'disable' || tls.mode === 'allow' || tls.mode === 'prefer')) return `sslcert needs sslmode=verify-full (or require, verify-ca), not ${tls.mode}`
  return null
}

/**
 * Why a postgres:// URL may not be used in production, or null: the server must be authenticated
 * (sslmode=verify-full: its certificate chains to the CA and names the host) unless every host is local.
 */
export function postgresPlaintextProblem(url: string): string | null {
  const { hosts } = connectionUrlParts(url)
  const { mode } = postgresTlsParameters(url)
  if (mode === 'verify-full') return null
  if (hosts.length > 0 && hosts.every(isLocalHost)) return null
  const where = hosts.length > 0 ? hosts.join(',') : 'the default host'
  return mode === 'require' || mode === 'verify-ca'
    ? `connects to ${where} with sslmode=${mode}, which does not check that the certificate names the server: use sslmode=verify-full (with sslrootcert, and sslcert/sslkey for a client certificate), or set DATABASE_ALLOW_PLAINTEXT=true`
    : `connects to ${where} without requiring TLS (sslmode=${mode}): use sslmode=verify-full (with sslrootcert, and sslcert/sslkey for a client certificate), or set DATABASE_ALLOW_PLAINTEXT=true`
}

/** The MongoDB options that switch certificate checks off. */
const MONGO_INSECURE_OPTIONS = ['tlsInsecure', 'tlsAllowInvalidCertificates', 'tlsAllowInvalidHostnames', 'tlsDisableOCSPEndpointCheck', 'tlsDisableCertificateRevocationCheck']

/**
 * Why a mongodb:// URL may not be used in production, or null. TLS is on with `tls=true` (or `ssl=true`),
 * by default for `mongodb+srv://`, and whenever CA or client-certificate files are configured; it must not
 * have its checks switched off, unless every host is local.
 */
export function mongoPlaintextProblem(url: string, tlsFilesGiven: boolean): string | null {
  const { hosts, params } = connectionUrlParts(url)
  const flag = (name: string) => {
    for (const [key, value] of params) if (key.toLowerCase() === name.toLowerCase()) return value.toLowerCase()
    return undefined
  }
  const explicit = flag('tls') ?? flag('ssl')
  const tls = explicit === 'true' || (explicit === undefined && (url.startsWith('mongodb+srv://') || tlsFilesGiven))
  const insecure = MONGO_INSECURE_OPTIONS.filter((name) => flag(name) === 'true')
  if (!url.startsWith('mongodb+srv://') && hosts.length > 0 && hosts.every(isLocalHost)) return null
  const where = hosts.join(',')
  if (!tls) return `connects to ${where} without TLS: add tls=true (with MONGO_TLS_CA and MONGO_TLS_CERT_KEY for X.509 client authentication), or set MONGO_ALLOW_PLAINTEXT=true`
  if (insecure.length > 0) return `connects to ${where} with ${insecure.map((n) => `${n}=true`).join(', ')}, which stops checking the server's certificate: remove it, or set MONGO_ALLOW_PLAINTEXT=true`
  return null
}
