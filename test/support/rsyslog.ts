import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

/**
 * A real rsyslog receiver for integration tests and benchmarks: its own configuration, work directory
 * and free loopback ports for plain TCP, mutual TLS, UDP, RELP and RELP over mutual TLS, writing every message it receives raw
 * (`%rawmsg%`, without the octet-count prefix) as one line of `receivedFile`.
 *
 * Needs the Debian packages rsyslog, rsyslog-openssl (or rsyslog-gnutls), rsyslog-relp and openssl.
 */

const run = promisify(execFile)

/** Certificates generated for one receiver: a CA, the server, a client the CA signed, and a rogue client. */
export interface RsyslogCerts {
  dir: string
  caFile: string
  serverCertFile: string
  serverKeyFile: string
  /** Signed by the CA, CN `authtrail-client`, extended key usage clientAuth: accepted. */
  clientCertFile: string
  clientKeyFile: string
  /** Self-signed with the same CN as the good client: must be refused. */
  rogueCertFile: string
  rogueKeyFile: string
}

export interface RsyslogReceiver {
  readonly dir: string
  readonly receivedFile: string
  readonly tcpPort: number
  readonly tlsPort: number
  readonly udpPort: number
  readonly relpPort: number
  readonly relpTlsPort: number
  /** `tcp://127.0.0.1:<port>` */
  readonly tcpUrl: string
  /** `tls://127.0.0.1:<port>`: requires a client certificate signed by `certs.caFile`. */
  readonly tlsUrl: string
  /** `udp://127.0.0.1:<port>` */
  readonly udpUrl: string
  /** `relp://127.0.0.1:<port>`: imrelp, whose ruleset writes each message before acknowledging it. */
  readonly relpUrl: string
  /** `relp+tls://127.0.0.1:<port>`: imrelp over TLS, requiring a client certificate signed by `certs.caFile`. */
  readonly relpTlsUrl: string
  readonly certs: RsyslogCerts
  /** The pid of the running rsyslogd, or null while stopped. */
  readonly pid: number | null
  /** Every message received so far, one per line, in arrival order. */
  readLines(): string[]
  /** How many messages arrived so far; cheap to poll (reads only what was appended since last time). */
  countLines(): number
  /** Resolves with all lines once at least `count` arrived; rejects after `timeoutMs` with what did. */
  waitForLines(count: number, timeoutMs?: number): Promise<string[]>
  /** Empties the capture file (messages arriving meanwhile may be lost: call it while idle). */
  clearLines(): void
  /** Stops rsyslogd (SIGTERM, SIGKILL after 5 s). Files stay, so `restart()` can follow. */
  stop(): Promise<void>
  /** Kills rsyslogd with SIGKILL: a crash. */
  kill(): Promise<void>
  /** SIGSTOP / SIGCONT: a receiver that hangs with its connections open, then resumes. */
  pause(): void
  resume(): void
  /** Starts rsyslogd again on the same ports and files (stopping it first if it runs). */
  restart(): Promise<void>
  /** Stops rsyslogd and removes the temporary directory. */
  dispose(): Promise<void>
}

export interface StartRsyslogOptions {
  /** TLS driver: `ossl` listens in ~20 ms, `gtls` in up to a second. Default `ossl`. */
  tlsDriver?: 'ossl' | 'gtls'
  /** rsyslog's maxMessageSize, e.g. `64k`. Default `64k`. */
  maxMessageSize?: string
  /** How long to wait for the listeners. Default 10 s. */
  startTimeoutMs?: number
}

const CLIENT_CN = 'authtrail-client'
const running = new Set<ChildProcess>()
let exitHookInstalled = false

/**
 * Starts rsyslogd in the foreground as a child process and resolves once all three inputs accept
 * messages.
 *
 * @example
 * const rx = await startRsyslog()
 * // send to rx.tcpUrl ...
 * const lines = await rx.waitForLines(10)
 * await rx.dispose()
 */
export async function startRsyslog(options: StartRsyslogOptions = {}): Promise<RsyslogReceiver> {
  installExitHook()
  const dir = mkdtempSync(join(tmpdir(), 'authtrail-rsyslog-'))
  mkdirSync(join(dir, 'work'))
  const certs = await generateCerts(join(dir, 'certs'))
  const receivedFile = join(dir, 'received.log')
  const probeFile = join(dir, 'probe.log')
  const confFile = join(dir, 'rsyslog.conf')
  const internalLog = join(dir, 'internal.log')
  const startTimeoutMs = options.startTimeoutMs ?? 10_000

  let child: ChildProcess | null = null
  let ports = { tcp: 0, tls: 0, udp: 0, relp: 0, relpTls: 0 }
  let stderr = ''

  const launch = async (): Promise<void> => {
    writeFileSync(receivedFile, '', { flag: 'a' })
    stderr = ''
    const proc = spawn('rsyslogd', ['-n', '-iNONE', '-f', confFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    running.add(proc)
    proc.once('exit', () => running.delete(proc))
    child = proc
    try {
      await waitUntilReady(proc, ports, { probeFile, internalLog }, startTimeoutMs, () => stderr)
    } catch (err) {
      await terminate(proc)
      child = null
      throw err
    }
  }

  // A free port found by binding port 0 may be taken again before rsyslog binds it: retry with new ones.
  for (let attempt = 1; ; attempt++) {
    ports = { tcp: await freeTcpPort(), tls: await freeTcpPort(), udp: await freeUdpPort(), relp: await freeTcpPort(), relpTls: await freeTcpPort() }
    writeFileSync(confFile, rsyslogConfig({ dir, certs, ports, receivedFile, probeFile, ...options }))
    try {
      await launch()
      break
    } catch (err) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true })
        throw err
      }
    }
  }

  const readLines = (): string[] => {
    if (!existsSync(receivedFile)) return []
    const text = readFileSync(receivedFile, 'utf8')
    return text === '' ? [] : text.replace(/\n$/, '').split('\n')
  }

  // Counting reads only what was appended since the last count: benchmarks poll files of millions of lines.
  const counted = { offset: 0, lines: 0 }
  const countLines = (): number => {
    if (!existsSync(receivedFile)) return 0
    const size = statSync(receivedFile).size
    if (size < counted.offset) Object.assign(counted, { offset: 0, lines: 0 })
    if (size === counted.offset) return counted.lines
    const fd = openSync(receivedFile, 'r')
    try {
      const buffer = Buffer.allocUnsafe(1 << 20)
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, counted.offset)
        if (n === 0) break
        for (let i = 0; i < n; i++) if (buffer[i] === 10) counted.lines++
        counted.offset += n
      }
    } finally {
      closeSync(fd)
    }
    return counted.lines
  }

  const stop = async (): Promise<void> => {
    const proc = child
    child = null
    if (proc) await terminate(proc)
  }

  return {
    dir,
    receivedFile,
    tcpPort: ports.tcp,
    tlsPort: ports.tls,
    udpPort: ports.udp,
    relpPort: ports.relp,
    relpTlsPort: ports.relpTls,
    tcpUrl: `tcp://127.0.0.1:${ports.tcp}`,
    tlsUrl: `tls://127.0.0.1:${ports.tls}`,
    udpUrl: `udp://127.0.0.1:${ports.udp}`,
    relpUrl: `relp://127.0.0.1:${ports.relp}`,
    relpTlsUrl: `relp+tls://127.0.0.1:${ports.relpTls}`,
    certs,
    get pid() {
      return child?.pid ?? null
    },
    readLines,
    countLines,
    async waitForLines(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const received = countLines()
        if (received >= count) return readLines()
        if (Date.now() > deadline) {
          throw new Error(
            `rsyslog received ${received} of ${count} lines within ${timeoutMs} ms; ` +
              `internal log: ${tail(internalLog)}`,
          )
        }
        await sleep(10)
      }
    },
    clearLines() {
      writeFileSync(receivedFile, '')
    },
    stop,
    async kill() {
      const proc = child
      child = null
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
      proc.kill('SIGKILL')
      await exited
    },
    pause() {
      child?.kill('SIGSTOP')
    },
    resume() {
      child?.kill('SIGCONT')
    },
    async restart() {
      await stop()
      await launch()
    },
    async dispose() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function rsyslogConfig(c: {
  dir: string
  certs: RsyslogCerts
  ports: { tcp: number; tls: number; udp: number; relp: number; relpTls: number }
  receivedFile: string
  probeFile: string
  tlsDriver?: 'ossl' | 'gtls'
  maxMessageSize?: string
}): string {
  const driver = c.tlsDriver ?? 'ossl'
  // ossl checks the chain and the peer name; gtls's x509/certvalid checks the chain only.
  const tlsAuth =
    driver === 'ossl'
      ? `streamDriver.authMode="x509/name" permittedPeer=["${CLIENT_CN}"]`
      : 'streamDriver.authMode="x509/certvalid"'
  return `
global(
  workDirectory="${c.dir}/work"
  processInternalMessages="on"
  maxMessageSize="${c.maxMessageSize ?? '64k'}"
  parser.escapeControlCharactersOnReceive="off"
  DefaultNetstreamDriverCAFile="${c.certs.caFile}"
  DefaultNetstreamDriverCertFile="${c.certs.serverCertFile}"
  DefaultNetstreamDriverKeyFile="${c.certs.serverKeyFile}"
)
module(load="imtcp" maxSessions="200")
module(load="imudp")
module(load="imrelp")
template(name="RawLine" type="string" string="%rawmsg%\\n")
ruleset(name="capture") {
  if ($rawmsg startswith "authtrail-rsyslog-probe") then {
    action(type="omfile" file="${c.probeFile}" template="RawLine" flushOnTXEnd="on" asyncWriting="off")
    stop
  }
  action(type="omfile" file="${c.receivedFile}" template="RawLine" flushOnTXEnd="on" asyncWriting="off")
  stop
}
# RELP acknowledges a message once its ruleset has taken it. A direct queue runs the action before
# that, so every acknowledged message is in the file (in the page cache) even if rsyslogd is killed.
ruleset(name="captureAcknowledged" queue.type="direct") {
  action(type="omfile" file="${c.receivedFile}" template="RawLine" flushOnTXEnd="on" asyncWriting="off")
  stop
}
input(type="imtcp" address="127.0.0.1" port="${c.ports.tcp}" ruleset="capture")
input(type="imtcp" address="127.0.0.1" port="${c.ports.tls}" ruleset="capture"
      streamDriver.name="${driver}" streamDriver.mode="1" ${tlsAuth})
input(type="imudp" address="127.0.0.1" port="${c.ports.udp}" ruleset="capture")
input(type="imrelp" address="127.0.0.1" port="${c.ports.relp}" ruleset="captureAcknowledged" maxDataSize="64k")
input(type="imrelp" address="127.0.0.1" port="${c.ports.relpTls}" ruleset="captureAcknowledged" maxDataSize="64k"
      tls="on" tls.tlslib="openssl" tls.caCert="${c.certs.caFile}" tls.myCert="${c.certs.serverCertFile}"
      tls.myPrivKey="${c.certs.serverKeyFile}" tls.authMode="name" tls.permittedPeer=["${CLIENT_CN}"])
# rsyslog's own messages (e.g. a refused TLS peer) go to the default ruleset: keep them for diagnosis.
*.* action(type="omfile" file="${c.dir}/internal.log" flushOnTXEnd="on" asyncWriting="off")
`
}

/**
 * Ready means: both TCP listeners accept a connection and a probe datagram went all the way through the
 * UDP input into the probe file, which proves the inputs and the output are live.
 */
async function waitUntilReady(
  proc: ChildProcess,
  ports: { tcp: number; tls: number; udp: number; relp: number; relpTls: number },
  files: { probeFile: string; internalLog: string },
  timeoutMs: number,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  proc.once('exit', () => (exited = true))
  const check = () => {
    if (exited) throw new Error(`rsyslogd exited during start-up: ${stderr()}`)
    if (Date.now() > deadline) throw new Error(`rsyslogd did not become ready in ${timeoutMs} ms: ${stderr()}`)
  }
  // rsyslog logs "start" once every input is activated, after any listener error; a port taken by
  // another process only shows there (rsyslog keeps running without that listener).
  const started = `x-pid="${proc.pid}"`
  while (!(existsSync(files.internalLog) && readFileSync(files.internalLog, 'utf8').includes(started))) {
    check()
    await sleep(10)
  }
  if (/Could not create|Address already in use|no listeners|activation of module \w+ failed/i.test(stderr())) {
    throw new Error(`rsyslogd could not open its listeners: ${stderr()}`)
  }
  for (const port of [ports.tcp, ports.tls, ports.relp, ports.relpTls]) {
    while (!(await canConnect(port))) {
      check()
      await sleep(10)
    }
  }
  const marker = `authtrail-rsyslog-probe ${proc.pid} ${Date.now()}`
  const udp = createSocket('udp4')
  try {
    for (;;) {
      check()
      udp.send(marker, ports.udp, '127.0.0.1')
      await sleep(20)
      if (existsSync(files.probeFile) && readFileSync(files.probeFile, 'utf8').includes(marker)) return
    }
  } finally {
    udp.close()
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** SIGTERM to the child's own pid; SIGKILL if it lingers (it can take seconds with a connection open). */
async function terminate(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // A crashed test run must not leave receivers behind holding ports.
  process.once('exit', () => {
    for (const proc of running) proc.kill('SIGKILL')
  })
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}

/**
 * Generates the test PKI with the openssl CLI: EC P-256 keys (fast to make), a CA, a server certificate
 * for localhost and 127.0.0.1, a client certificate with clientAuth, and a self-signed rogue client.
 */
export async function generateCerts(dir: string): Promise<RsyslogCerts> {
  mkdirSync(dir, { recursive: true })
  const p = (name: string) => join(dir, name)
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const days = ['-days', '2']

  await run('openssl', [
    'req', '-x509', ...newKey, ...days, '-keyout', p('ca.key'), '-out', p('ca.crt'),
    '-subj', '/CN=authtrail-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ])

  const signed = async (name: string, cn: string, extensions: string) => {
    writeFileSync(p(`${name}.ext`), extensions)
    await run('openssl', ['req', '-new', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`])
    await run('openssl', [
      'x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-set_serial',
      `0x${randomSerial()}`, ...days, '-out', p(`${name}.crt`), '-extfile', p(`${name}.ext`),
    ])
  }
  await signed(
    'server',
    'localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  )
  await signed('client', CLIENT_CN, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n')

  await run('openssl', [
    'req', '-x509', ...newKey, ...days, '-keyout', p('rogue.key'), '-out', p('rogue.crt'),
    '-subj', `/CN=${CLIENT_CN}`, '-addext', 'extendedKeyUsage=clientAuth',
  ])

  return {
    dir,
    caFile: p('ca.crt'),
    serverCertFile: p('server.crt'),
    serverKeyFile: p('server.key'),
    clientCertFile: p('client.crt'),
    clientKeyFile: p('client.key'),
    rogueCertFile: p('rogue.crt'),
    rogueKeyFile: p('rogue.key'),
  }
}

function randomSerial(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('').replace(/^[89a-f]/, '1')
}

function tail(file: string, chars = 2000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars)
  } catch {
    return '(none)'
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
