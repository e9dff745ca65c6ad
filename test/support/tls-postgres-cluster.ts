import { execFile } from 'node:child_process'
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../../src/db/embedded-postgres.ts'

const run = promisify(execFile)

/** The installed server binaries (Debian's postgresql-15). */
const PG_BIN = '/usr/lib/postgresql/15/bin'
/** initdb and the server refuse to run as root; the tests do, so the cluster runs as this system user. */
const CLUSTER_USER = 'postgres'

/** PEM files of one test PKI: two CAs that know nothing of each other, and certificates from each. */
export interface ClusterCerts {
  dir: string
  /** The CA the server trusts for client certificates, and that signed the server's certificate. */
  caFile: string
  /** Another CA, unknown to the server. */
  otherCaFile: string
  /** A client certificate and key for `role`, signed by the trusted CA (CN = the role, as `cert` auth maps it). */
  client(role: string): { certFile: string; keyFile: string }
  /** The same, signed by the other CA: the server must refuse it. */
  foreignClient(role: string): { certFile: string; keyFile: string }
}

export interface TlsPostgresCluster {
  readonly port: number
  readonly certs: ClusterCerts
  /** The server's log, for failure messages. */
  readonly logFile: string
  /**
   * A URL to the cluster over TCP, libpq style: `host` (default `localhost`, the name the server's certificate
   * carries), sslmode and the certificate files as URL parameters.
   */
  url(options: { role: string; database?: string; host?: string; sslmode?: string; rootCert?: string; client?: { certFile: string; keyFile: string } }): string
  stop(): Promise<void>
}

/**
 * Starts a PostgreSQL cluster of its own (initdb, pg_ctl) that accepts TCP connections only over TLS with
 * a client certificate (`hostssl … cert`: the certificate must chain to the cluster's CA and its CN must be
 * the role), on a free loopback port, with certificates generated for this run. Data, certificates and
 * socket live in one temporary directory, removed by `stop`. Client certificates are made for `clientRoles`.
 */
export async function startTlsPostgresCluster(clientRoles: readonly string[]): Promise<TlsPostgresCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'authtrail-mtls-'))
  const dataDir = join(dir, 'data')
  const socketDir = join(dir, 'socket')
  const logFile = join(dir, 'server.log')
  mkdirSync(socketDir)
  const certs = await generateClusterCerts(join(dir, 'certs'), clientRoles)
  await run('chown', ['-R', `${CLUSTER_USER}:`, dir])
  const asClusterUser = (command: string, args: string[]) => run('runuser', ['-u', CLUSTER_USER, '--', join(PG_BIN, command), ...args], { timeout: 120_000 })

  await asClusterUser('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '--no-instructions'])
  const port = await freePort()
  appendFileSync(
    join(dataDir, 'postgresql.conf'),
    [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${socketDir}'`,
      'ssl = on',
      `ssl_cert_file = '${join(certs.dir, 'server.crt')}'`,
      `ssl_key_file = '${join(certs.dir, 'server.key')}'`,
      `ssl_ca_file = '${certs.caFile}'`,
      'fsync = off',
      'max_connections = 30',
      'shared_buffers = 16MB',
      '',
    ].join('\n'),
  )
  // Over TCP only `hostssl … cert`: a connection without TLS has no entry, one without a certificate the CA
  // signed, or whose CN is not the role, is refused. The Unix socket (pg_ctl's) stays with the cluster's user.
  writeFileSync(join(dataDir, 'pg_hba.conf'), ['local all postgres peer', 'hostssl all all 127.0.0.1/32 cert', ''].join('\n'))
  await run('chown', [`${CLUSTER_USER}:`, join(dataDir, 'pg_hba.conf')])
  await asClusterUser('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '120', 'start'])
  return {
    port,
    certs,
    logFile,
    url: ({ role, database = 'postgres', host = 'localhost', sslmode = 'verify-full', rootCert = certs.caFile, client }) => {
      const params = new URLSearchParams({ sslmode, sslrootcert: rootCert, ...(client && { sslcert: client.certFile, sslkey: client.keyFile }) })
      return `postgres://${role}@${host}:${port}/${database}?${params.toString().replaceAll('%2F', '/')}`
    },
    stop: async () => {
      await asClusterUser('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', '-t', '120', 'stop']).catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * EC P-256 keys (fast to make) and certificates made with the openssl CLI: a CA, the server's certificate
 * for `localhost` only (so that connecting to 127.0.0.1 with verify-full must fail the name check), and a
 * client certificate per role from each CA.
 */
async function generateClusterCerts(dir: string, roles: readonly string[]): Promise<ClusterCerts> {
  mkdirSync(dir, { recursive: true })
  const p = (name: string) => join(dir, name)
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const days = ['-days', '2']
  const makeCa = (name: string, cn: string) =>
    run('openssl', ['req', '-x509', ...newKey, ...days, '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  const sign = async (ca: string, name: string, cn: string, extensions: string) => {
    writeFileSync(p(`${name}.ext`), extensions)
    await run('openssl', ['req', '-new', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`])
    await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${ca}.crt`), '-CAkey', p(`${ca}.key`), '-CAcreateserial', ...days, '-out', p(`${name}.crt`), '-extfile', p(`${name}.ext`)])
    chmodSync(p(`${name}.key`), 0o600)
  }
  await makeCa('ca', 'authtrail-test-database-ca')
  await makeCa('other-ca', 'authtrail-test-other-ca')
  await sign('ca', 'server', 'localhost', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n')
  for (const ca of ['ca', 'other-ca']) for (const role of roles) await sign(ca, `${ca}-client-${role}`, role, 'extendedKeyUsage=clientAuth\n')
  const files = (ca: string) => (role: string) => {
    if (!roles.includes(role)) throw new Error(`no client certificate for ${role} was generated`)
    return { certFile: p(`${ca}-client-${role}.crt`), keyFile: p(`${ca}-client-${role}.key`) }
  }
  return { dir, caFile: p('ca.crt'), otherCaFile: p('other-ca.crt'), client: files('ca'), foreignClient: files('other-ca') }
}
