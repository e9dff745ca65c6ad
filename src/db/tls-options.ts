import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls'
import { ConfigError } from '../config/env.ts'
import { connectionUrlParts, LIBPQ_TLS_PARAMETERS, postgresTlsParameterProblem, postgresTlsParameters } from '../config/transport-security.ts'
import { createSql, type DatabaseSsl, type Sql, type SqlOptions } from './client.ts'

/** What postgres.js is given for one configured URL. */
export interface DatabaseTarget {
  /** The URL without libpq's TLS parameters, which postgres.js would send to the server as settings. */
  url: string
  ssl: DatabaseSsl
}

/**
 * Reads libpq's TLS parameters in a postgres:// URL (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`), so that
 * the URL a DBA tests with psql is the one the service uses. postgres.js 3.4 reads `sslmode` alone and
 * sends the others to the server as run-time settings, which it refuses (42704); so they are taken out
 * here and their files read into node:tls options. `verify-full` checks the chain and that the
 * certificate names the host; `verify-ca` the chain only; without `sslrootcert` the system's CAs are used.
 * Files are read once, at connection set-up: a rotated certificate takes a restart. A file that cannot
 * be read is a ConfigError naming `variable`.
 *
 * @example
 * const target = databaseTarget('DATABASE_URL', 'postgres://authtrail_runtime@db.internal/authtrail?sslmode=verify-full&sslrootcert=/etc/authtrail/ca.crt&sslcert=/etc/authtrail/runtime.crt&sslkey=/etc/authtrail/runtime.key')
 * const sql = createSql(target.url, { ssl: target.ssl })
 */
export function databaseTarget(variable: string, url: string): DatabaseTarget {
  const problem = postgresTlsParameterProblem(url)
  if (problem !== null) throw new ConfigError(`invalid configuration:\n  ${variable}: ${problem}`)
  const tls = postgresTlsParameters(url)
  const stripped = withoutTlsParameters(url)
  // libpq ignores the files unless the connection requires TLS; so does this.
  if (tls.mode === 'disable' || tls.mode === 'allow' || tls.mode === 'prefer') return { url: stripped, ssl: tls.mode === 'disable' ? false : tls.mode }
  const read = (parameter: string, path: string | undefined) => {
    if (path === undefined) return undefined
    try {
      return readFileSync(path)
    } catch (error) {
      throw new ConfigError(`invalid configuration:\n  ${variable}: the ${parameter} file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  const ca = tls.rootCertFile === 'system' ? undefined : read('sslrootcert', tls.rootCertFile)
  const cert = read('sslcert', tls.certFile)
  const key = read('sslkey', tls.keyFile)
  const material: ConnectionOptions = { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) }
  switch (tls.mode) {
    case 'require':
      return { url: stripped, ssl: cert ? { ...material, rejectUnauthorized: false } : 'require' }
    case 'verify-ca':
      return { url: stripped, ssl: { ...material, rejectUnauthorized: true, checkServerIdentity: () => undefined } }
    default:
      return { url: stripped, ssl: { ...material, rejectUnauthorized: true, checkServerIdentity: serverIdentityCheck(connectionUrlParts(url).hosts) } }
  }
}

/**
 * verify-full's name check. postgres.js sends the host as SNI only when it is a name; for an address,
 * Node then checks the certificate against `localhost` (the socket carries no host), so a certificate
 * for localhost would pass for any address. The address is checked here instead: exactly, for a URL
 * with one host; for several hosts given by address, the certificate must name one of them.
 */
function serverIdentityCheck(hosts: string[]): (hostname: string, cert: PeerCertificate) => Error | undefined {
  const addresses = hosts.filter((h) => isIP(h) !== 0)
  const names = hosts.filter((h) => isIP(h) === 0)
  return (hostname, cert) => {
    if (names.includes(hostname) && (addresses.length === 0 || hostname !== 'localhost')) return checkServerIdentity(hostname, cert)
    if (addresses.length === 0) return checkServerIdentity(hostname, cert)
    const errors = addresses.map((address) => checkServerIdentity(address, cert))
    return errors.includes(undefined) ? undefined : errors[0]
  }
}

/**
 * A client for the URL in `variable`, with its TLS set up by `databaseTarget`: how every Node entrypoint
 * connects to a configured server.
 *
 * @example
 * const sql = connectDatabase('DATABASE_URL', env.DATABASE_URL, { max: env.DATABASE_POOL_SIZE })
 */
export function connectDatabase(variable: string, url: string, options: SqlOptions = {}): Sql {
  const target = databaseTarget(variable, url)
  return createSql(target.url, { ...options, ssl: target.ssl })
}

function withoutTlsParameters(url: string): string {
  const queryStart = url.indexOf('?')
  if (queryStart === -1) return url
  const [query, fragment] = url.slice(queryStart + 1).split('#') as [string, string | undefined]
  const params = new URLSearchParams(query)
  for (const name of LIBPQ_TLS_PARAMETERS) params.delete(name)
  const rest = params.toString()
  return `${url.slice(0, queryStart)}${rest === '' ? '' : `?${rest}`}${fragment === undefined ? '' : `#${fragment}`}`
}
