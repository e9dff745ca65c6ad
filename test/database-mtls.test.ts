import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { MongoClient } from 'mongodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadEnv, loadMigrationEnv } from '../src/config/env.ts'
import type { Sql } from '../src/db/client.ts'
import { DEFAULT_ROLE_NAMES } from '../src/db/migrate.ts'
import { connectDatabase, databaseTarget } from '../src/db/tls-options.ts'
import { mongoClientOptions } from '../src/sinks/docstore/mongo-client-options.ts'
import { TEST_CHECKPOINT_SIGNING_KEY } from './support/checkpoint-key.ts'
import { REPO_ROOT, spawnService } from './support/spawn-service.ts'
import { seedTenant, TEST_JWT_SIGNING_KEY } from './support/test-app.ts'
import { startTlsPostgresCluster, type TlsPostgresCluster } from './support/tls-postgres-cluster.ts'

const PRODUCTION = { AUTHTRAIL_ENV: 'production', JWT_SIGNING_KEY: TEST_JWT_SIGNING_KEY, CHECKPOINT_SIGNING_KEY: TEST_CHECKPOINT_SIGNING_KEY }
const REMOTE = 'postgres://authtrail_runtime@db.internal:5432/authtrail'
const VERIFIED = '?sslmode=verify-full&sslrootcert=/etc/authtrail/db-ca.crt&sslcert=/etc/authtrail/runtime.crt&sslkey=/etc/authtrail/runtime.key'

/** The message of the ConfigError `load` throws, or null when it loads. */
function refusal(load: () => unknown): string | null {
  try {
    load()
    return null
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return error.message
  }
}

describe('production refuses plaintext to the audit stores', () => {
  it('refuses each PostgreSQL URL to a remote server without sslmode=verify-full, naming the variable', () => {
    for (const variable of ['DATABASE_URL', 'RETENTION_DATABASE_URL'] as const) {
      const base = { ...PRODUCTION, DATABASE_URL: `${REMOTE}${VERIFIED}` }
      expect(refusal(() => loadEnv({ ...base, [variable]: REMOTE }))).toMatch(new RegExp(`${variable}: connects to db.internal without requiring TLS \\(sslmode=disable\\)`))
      expect(refusal(() => loadEnv({ ...base, [variable]: `${REMOTE}?sslmode=prefer` }))).toMatch(new RegExp(`${variable}: connects to db.internal without requiring TLS \\(sslmode=prefer\\)`))
      expect(refusal(() => loadEnv({ ...base, [variable]: `${REMOTE}?sslmode=require` }))).toMatch(new RegExp(`${variable}: .*sslmode=require, which does not check that the certificate names the server`))
      expect(refusal(() => loadEnv({ ...base, [variable]: `${REMOTE}?sslmode=verify-ca&sslrootcert=/ca.crt` }))).toMatch(new RegExp(`${variable}: .*sslmode=verify-ca`))
      expect(refusal(() => loadEnv({ ...base, [variable]: `${REMOTE}${VERIFIED}` }))).toBeNull()
    }
    expect(refusal(() => loadMigrationEnv({ AUTHTRAIL_ENV: 'production', MIGRATION_DATABASE_URL: 'postgres://authtrail_owner@db.internal/authtrail' }))).toMatch(/MIGRATION_DATABASE_URL: connects to db.internal without requiring TLS/)
    expect(refusal(() => loadMigrationEnv({ AUTHTRAIL_ENV: 'production', MIGRATION_DATABASE_URL: `postgres://authtrail_owner@db.internal/authtrail${VERIFIED}` }))).toBeNull()
    // Every host of a multi-host URL counts.
    expect(refusal(() => loadEnv({ ...PRODUCTION, DATABASE_URL: 'postgres://u@127.0.0.1:5432,db.internal:5432/authtrail' }))).toMatch(/DATABASE_URL: connects to 127.0.0.1,db.internal without requiring TLS/)
  })

  it('allows plaintext to a local server (loopback, Unix socket), outside production, or when DATABASE_ALLOW_PLAINTEXT=true', () => {
    for (const local of ['postgres://u@127.0.0.1:5432/a', 'postgres://u@localhost/a', 'postgres://u@[::1]:5432/a', 'postgres://u@[0:0:0:0:0:0:0:1]/a', 'postgres://u@[::ffff:127.0.0.2]/a', 'postgres://u@127.255.0.1/a', 'postgres://u@%2Fvar%2Frun%2Fpostgresql/a']) {
      expect(refusal(() => loadEnv({ ...PRODUCTION, DATABASE_URL: local }))).toBeNull()
    }
    expect(refusal(() => loadEnv({ ...PRODUCTION, DATABASE_URL: 'postgres://u@127.0.0.1.example.com/a' }))).toMatch(/DATABASE_URL: connects to 127.0.0.1.example.com/)
    for (const remote of ['128.0.0.1', '[::2]', '[::ffff:10.0.0.1]', '127.1', '0x7f.0.0.1']) {
      expect(refusal(() => loadEnv({ ...PRODUCTION, DATABASE_URL: `postgres://u@${remote}/a` }))).toMatch(/DATABASE_URL: connects to .* without requiring TLS/)
    }
    expect(refusal(() => loadEnv({ ...PRODUCTION, AUTHTRAIL_ENV: 'test', DATABASE_URL: REMOTE }))).toBeNull()
    expect(refusal(() => loadEnv({ ...PRODUCTION, DATABASE_URL: REMOTE, RETENTION_DATABASE_URL: REMOTE, DATABASE_ALLOW_PLAINTEXT: 'true' }))).toBeNull()
    expect(refusal(() => loadMigrationEnv({ AUTHTRAIL_ENV: 'production', MIGRATION_DATABASE_URL: REMOTE, DATABASE_ALLOW_PLAINTEXT: 'true' }))).toBeNull()
  })

  it('checks the TLS parameters of a URL everywhere: a known sslmode, sslcert with sslkey, a client certificate only over TLS', () => {
    expect(refusal(() => loadEnv({ DATABASE_URL: `${REMOTE}?sslmode=verify_full` }))).toMatch(/DATABASE_URL: sslmode=verify_full is not one of disable, allow, prefer, require, verify-ca, verify-full/)
    expect(refusal(() => loadEnv({ DATABASE_URL: `${REMOTE}?sslmode=verify-full&sslcert=/c.crt` }))).toMatch(/DATABASE_URL: sslcert and sslkey go together/)
    expect(refusal(() => loadEnv({ RETENTION_DATABASE_URL: `${REMOTE}?sslmode=prefer&sslcert=/c.crt&sslkey=/c.key` }))).toMatch(/RETENTION_DATABASE_URL: sslcert needs sslmode=verify-full/)
  })

  it("takes libpq's TLS parameters out of the URL for postgres.js and names an unreadable file with its variable", () => {
    const target = databaseTarget('DATABASE_URL', `${REMOTE}?application_name=x&sslmode=disable&sslrootcert=/nowhere.crt`)
    expect(target).toEqual({ url: `${REMOTE}?application_name=x`, ssl: false })
    expect(databaseTarget('DATABASE_URL', `${REMOTE}?sslmode=require`)).toEqual({ url: REMOTE, ssl: 'require' })
    expect(refusal(() => databaseTarget('RETENTION_DATABASE_URL', `${REMOTE}?sslmode=verify-full&sslrootcert=/nowhere/ca.crt`))).toMatch(/RETENTION_DATABASE_URL: the sslrootcert file \/nowhere\/ca.crt cannot be read \(ENOENT\)/)
    // sslrootcert=system: the system's CAs, and verify-full as in libpq.
    const system = databaseTarget('DATABASE_URL', `${REMOTE}?sslrootcert=system`)
    expect(system.url).toBe(REMOTE)
    expect(system.ssl).toMatchObject({ rejectUnauthorized: true })
    expect(system.ssl).not.toHaveProperty('ca')
  })

  it('refuses MONGO_URL to a remote server without TLS, or with its certificate checks off (not run against MongoDB: none runs here)', () => {
    const mongo = (url: string, extra: Record<string, string> = {}) => refusal(() => loadEnv({ ...PRODUCTION, DATABASE_URL: 'postgres://u@127.0.0.1/a', MONGO_URL: url, ...extra }))
    expect(mongo('mongodb://mongo.internal:27017')).toMatch(/MONGO_URL: connects to mongo.internal without TLS/)
    expect(mongo('mongodb://mongo.internal:27017/?tls=false')).toMatch(/MONGO_URL: connects to mongo.internal without TLS/)
    expect(mongo('mongodb://mongo.internal:27017/?tls=true&tlsAllowInvalidCertificates=true')).toMatch(/MONGO_URL: .*tlsAllowInvalidCertificates=true, which stops checking/)
    expect(mongo('mongodb://a.internal,b.internal/?replicaSet=rs0&tlsInsecure=true&tls=true')).toMatch(/MONGO_URL: connects to a.internal,b.internal with tlsInsecure=true/)
    expect(mongo('mongodb://mongo.internal:27017/?tls=true&authMechanism=MONGODB-X509&authSource=%24external')).toBeNull()
    expect(mongo('mongodb://mongo.internal:27017/?ssl=true')).toBeNull()
    expect(mongo('mongodb+srv://cluster0.example.net/')).toBeNull()
    expect(mongo('mongodb+srv://cluster0.example.net/?tls=false')).toMatch(/without TLS/)
    expect(mongo('mongodb://mongo.internal:27017', { MONGO_TLS_CA: '/etc/authtrail/mongo-ca.crt' })).toBeNull()
    expect(mongo('mongodb://127.0.0.1:27017')).toBeNull()
    expect(mongo('mongodb://mongo.internal:27017', { MONGO_ALLOW_PLAINTEXT: 'true' })).toBeNull()
  })

  it('gives the MongoDB driver the CA and the client certificate files (the options it parses; no MongoDB runs here)', () => {
    expect(mongoClientOptions({ MONGO_TLS_CA: undefined, MONGO_TLS_CERT_KEY: undefined })).toEqual({})
    const client = new MongoClient('mongodb://mongo.internal:27017/?authMechanism=MONGODB-X509&authSource=%24external', mongoClientOptions({ MONGO_TLS_CA: '/etc/authtrail/mongo-ca.crt', MONGO_TLS_CERT_KEY: '/etc/authtrail/relay.pem' }))
    expect(client.options).toMatchObject({ tls: true, tlsCAFile: '/etc/authtrail/mongo-ca.crt', tlsCertificateKeyFile: '/etc/authtrail/relay.pem' })
    expect(client.options.credentials?.mechanism).toBe('MONGODB-X509')
  })
})

interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs `authtrail migrate` (the package's own script) with exactly `env`. */
function runMigrate(env: Record<string, string>): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/authtrail.js', 'migrate'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    )
  })
}

describe('mutual TLS to PostgreSQL, against a private cluster that accepts only hostssl … cert', () => {
  const RUNTIME = DEFAULT_ROLE_NAMES.runtime
  let cluster: TlsPostgresCluster
  let admin: Sql
  const serverLog = () => readFileSync(cluster.logFile, 'utf8')

  beforeAll(async () => {
    cluster = await startTlsPostgresCluster(['postgres', RUNTIME])
    admin = connectDatabase('the test superuser', cluster.url({ role: 'postgres', client: cluster.certs.client('postgres') }), { max: 2 })
  }, 240_000)

  afterAll(async () => {
    await admin?.end({ timeout: 5 })
    await cluster?.stop()
  }, 120_000)

  it('`authtrail migrate` connects with its client certificate; without one, with one from another CA, or in plaintext the server refuses it', { timeout: 600_000 }, async () => {
    const migrateWith = (url: string) => runMigrate({ AUTHTRAIL_ENV: 'production', MIGRATION_DATABASE_URL: url })
    const refusedHandshakes = () => serverLog().match(/could not accept SSL connection: certificate verify failed/g)?.length ?? 0
    const handshakesBefore = refusedHandshakes()
    const [none, foreign, plaintext] = await Promise.all([
      migrateWith(cluster.url({ role: 'postgres' })),
      migrateWith(cluster.url({ role: 'postgres', client: cluster.certs.foreignClient('postgres') })),
      migrateWith(cluster.url({ role: 'postgres', sslmode: 'disable' })),
    ])
    expect(none.code, none.stderr).not.toBe(0)
    expect(none.stderr).toMatch(/connection requires a valid client certificate/)
    expect(foreign.code, foreign.stderr).not.toBe(0)
    // The server ends the handshake (alert unknown_ca); the client sees that alert or the reset that follows.
    expect(foreign.stderr).toMatch(/ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET/)
    expect(foreign.stdout).not.toMatch(/applied/)
    expect(plaintext.code, plaintext.stderr).not.toBe(0)
    expect(plaintext.stderr).toMatch(/no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "postgres", no encryption/)
    expect(refusedHandshakes()).toBeGreaterThan(handshakesBefore)
    const [before] = await admin<{ count: number }[]>`SELECT count(*)::int AS count FROM pg_tables WHERE tablename = 'auth_logs'`
    expect(before!.count).toBe(0)

    const good = await migrateWith(cluster.url({ role: 'postgres', client: cluster.certs.client('postgres') }))
    expect(good.code, good.stderr).toBe(0)
    expect(good.stdout).toMatch(/applied/)
    const [tables] = await admin<{ count: number }[]>`SELECT count(*)::int AS count FROM pg_tables WHERE tablename = 'auth_logs'`
    expect(tables!.count).toBe(1)
  })

  it('the service connects as the runtime role with its certificate and appends to the trail over TLS; without one or with one from another CA it does not start', { timeout: 600_000 }, async () => {
    const seeded = await seedTenant(admin, { slug: 'mtls', chainShards: 1, users: [{ identifier: 'alice@mtls.test' }] })
    const serviceWith = (url: string) => spawnService('node', { ...PRODUCTION, DATABASE_URL: url, RELAY_ENABLED: 'false', HOST: '127.0.0.1', PORT: '0' })

    const service = serviceWith(cluster.url({ role: RUNTIME, client: cluster.certs.client(RUNTIME) }))
    try {
      await service.waitForOutput('authtrail listening on', 180_000)
      const port = /authtrail listening on 127\.0\.0\.1:(\d+)/.exec(service.stdout())![1]
      const res = await fetch(`http://127.0.0.1:${port}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: 'mtls', identifier: 'alice@mtls.test', password: 'not her password' }),
      })
      expect(res.status).toBe(401)
      const rows = await admin<{ event_type: string }[]>`SELECT event_type FROM auth_logs WHERE tenant_id = ${seeded.tenant.id} AND event_type = 'login_failed'`
      expect(rows).toHaveLength(1)
      const sessions = await admin<{ ssl: boolean; client_dn: string | null }[]>`
        SELECT s.ssl, s.client_dn FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = ${RUNTIME}`
      expect(sessions.length).toBeGreaterThan(0)
      expect(sessions.every((s) => s.ssl && s.client_dn === `/CN=${RUNTIME}`)).toBe(true)
    } finally {
      expect(await service.stop()).toBe(0)
    }

    const none = serviceWith(cluster.url({ role: RUNTIME }))
    const foreign = serviceWith(cluster.url({ role: RUNTIME, client: cluster.certs.foreignClient(RUNTIME) }))
    const [noneCode, foreignCode] = await Promise.all([none.exited, foreign.exited])
    expect(noneCode, none.stderr()).not.toBe(0)
    expect(none.stderr()).toMatch(/connection requires a valid client certificate/)
    expect(none.stdout()).not.toMatch(/listening/)
    expect(foreignCode, foreign.stderr()).not.toBe(0)
    expect(foreign.stderr()).toMatch(/ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET/)
    expect(foreign.stdout()).not.toMatch(/listening/)
    // A certificate for another role is refused too: cert authentication maps the CN to the role.
    const [mismatch] = await Promise.allSettled([connectDatabase('DATABASE_URL', cluster.url({ role: RUNTIME, client: cluster.certs.client('postgres') }), { max: 1 })`SELECT 1`])
    expect(mismatch).toMatchObject({ status: 'rejected', reason: { code: '28000' } })
  })

  it('verify-full checks that the server certificate names the host, verify-ca only its chain; a server from another CA is refused', { timeout: 120_000 }, async () => {
    const client = cluster.certs.client('postgres')
    const attempt = async (url: string) => {
      const sql = connectDatabase('DATABASE_URL', url, { max: 1 })
      try {
        const [row] = await sql<{ ssl: boolean }[]>`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`
        return row!.ssl
      } finally {
        await sql.end({ timeout: 5 })
      }
    }
    // The server's certificate names localhost only. (Left to postgres.js and Node, an address would be
    // checked against `localhost` and pass: the check tls-options.ts adds is what fails here.)
    expect(await attempt(cluster.url({ role: 'postgres', client }))).toBe(true)
    await expect(attempt(cluster.url({ role: 'postgres', client, host: '127.0.0.1' }))).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
    expect(await attempt(cluster.url({ role: 'postgres', client, host: '127.0.0.1', sslmode: 'verify-ca' }))).toBe(true)
    await expect(attempt(cluster.url({ role: 'postgres', client, rootCert: cluster.certs.otherCaFile }))).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/) })
  })
})
