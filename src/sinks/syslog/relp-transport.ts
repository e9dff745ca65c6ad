import type { Socket } from 'node:net'
import {
  createRelpDecoder,
  encodeRelpFrame,
  nextRelpTxnr,
  parseRelpResponse,
  relpOffersSyslog,
  relpOpenOffers,
  type RelpFrame,
  type RelpResponse,
} from '../../core/relp.ts'
import { connectSocket, type SyslogTlsFiles } from './stream-transport.ts'
import { createSerialQueue, type SyslogTransport } from './syslog-transport.ts'

export interface RelpTransportOptions {
  host: string
  port: number
  /** Present for `relp+tls://`: the same files as `tls://`, mutual TLS when a client certificate is given. */
  tls?: SyslogTlsFiles
  /** For the TCP (and TLS) connection and, again, for the `open` handshake. Default 5 s. */
  connectTimeoutMs?: number
  /**
   * With frames outstanding, a receiver that acknowledges nothing for this long is taken for dead (a
   * stalled or hung rsyslog): the connection is dropped and everything unacknowledged is sent again on a
   * new one. Default 10 s.
   */
  ackTimeoutMs?: number
  /** Frames sent and not yet acknowledged, at most. Default 1024 (librelp's default is 128). */
  windowSize?: number
  /** Reconnections one `send` makes to redeliver what was not acknowledged before it gives up. Default 1. */
  maxReconnects?: number
  maxQueuedSends?: number
  /** `relp_software` offered in `open`. */
  software?: string
}

/** The receiver answered a `syslog` frame with a status other than 200: it refused that message. */
export class RelpRefusedError extends Error {
  override name = 'RelpRefusedError'
}

/** The connection ended or failed; what it carried unacknowledged must be sent again. */
export class RelpConnectionError extends Error {
  override name = 'RelpConnectionError'
}

interface Session {
  socket: Socket
  txnr: number
  /** Frames awaiting their `rsp`, by TXNR. */
  pending: Map<number, (response: RelpResponse) => void>
  death: Error | null
  onDeath: Set<(err: Error) => void>
  /** Woken on every acknowledgement: senders waiting for room in the window. */
  onAck: Set<() => void>
  lastProgressAt: number
  watchdog: ReturnType<typeof setInterval> | null
}

/**
 * Syslog over RELP (rsyslog's `imrelp`), optionally inside TLS: acknowledged delivery. Every message is a
 * `syslog` transaction the receiver answers with `200 OK` once it has taken the message (with rsyslog:
 * once its ruleset queue has it; see docs/cef.md for a receiver configuration that loses nothing
 * acknowledged across a crash). `send` resolves only when every message of the call was acknowledged.
 *
 * Up to `windowSize` frames are in flight at once, written many per socket write. When the connection
 * dies (reset, end of stream, `serverclose`, a receiver silent for `ackTimeoutMs`), every frame not yet
 * acknowledged is written again on a new connection, up to `maxReconnects` times; after that the send
 * rejects and the relay redelivers the batch later. Redelivery can duplicate a message the receiver took
 * but could not acknowledge: at-least-once, duplicates recognisable by the CEF `externalId`.
 */
export function createRelpTransport(options: RelpTransportOptions): SyslogTransport {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  const ackTimeoutMs = options.ackTimeoutMs ?? 10_000
  const windowSize = Math.max(1, options.windowSize ?? 1024)
  const maxReconnects = options.maxReconnects ?? 1
  const software = options.software ?? 'authtrail'
  const queue = createSerialQueue(options.maxQueuedSends ?? 64)
  let current: Session | null = null
  let closed = false

  function die(session: Session, err: Error): void {
    if (session.death) return
    session.death = err
    if (current === session) current = null
    if (session.watchdog) clearInterval(session.watchdog)
    session.socket.destroy()
    session.pending.clear()
    for (const notify of session.onDeath) notify(err)
    session.onDeath.clear()
    session.onAck.clear()
  }

  /** Resolves as `promise` does, unless the session dies first. */
  function untilDeath<T>(session: Session, promise: Promise<T>): Promise<T> {
    if (session.death) return Promise.reject(session.death)
    return new Promise<T>((resolve, reject) => {
      const onDeath = (err: Error) => reject(err)
      session.onDeath.add(onDeath)
      promise.then(
        (value) => {
          session.onDeath.delete(onDeath)
          resolve(value)
        },
        (err: unknown) => {
          session.onDeath.delete(onDeath)
          reject(err)
        },
      )
    })
  }

  /** Writes frames already registered in `pending`; waits for the kernel to take them when it pushes back. */
  async function write(session: Session, chunk: string): Promise<void> {
    if (session.death) throw session.death
    if (!session.socket.write(chunk, 'utf8')) {
      await untilDeath(session, new Promise<void>((resolve) => session.socket.once('drain', resolve)))
    }
  }

  /** Sends one command and resolves with its response. */
  function transact(session: Session, command: string, data: string): Promise<RelpResponse> {
    session.txnr = nextRelpTxnr(session.txnr)
    const txnr = session.txnr
    const response = new Promise<RelpResponse>((resolve) => session.pending.set(txnr, resolve))
    if (session.pending.size === 1) session.lastProgressAt = Date.now()
    void write(session, encodeRelpFrame(txnr, command, data)).catch(() => {})
    return untilDeath(session, response)
  }

  function onFrame(session: Session, frame: RelpFrame): void {
    if (frame.command === 'serverclose') {
      die(session, new RelpConnectionError('RELP receiver closed the session (serverclose)'))
      return
    }
    if (frame.command !== 'rsp') {
      die(session, new RelpConnectionError(`unexpected RELP command from the receiver: ${frame.command}`))
      return
    }
    const settle = session.pending.get(frame.txnr)
    if (settle === undefined) {
      die(session, new RelpConnectionError(`RELP response to unknown transaction ${frame.txnr}`))
      return
    }
    session.pending.delete(frame.txnr)
    session.lastProgressAt = Date.now()
    settle(parseRelpResponse(frame.data))
    for (const wake of session.onAck) wake()
  }

  async function openSession(): Promise<Session> {
    const socket = await connectSocket(options, connectTimeoutMs)
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 30_000)
    const session: Session = {
      socket,
      txnr: 0,
      pending: new Map(),
      death: null,
      onDeath: new Set(),
      onAck: new Set(),
      lastProgressAt: Date.now(),
      watchdog: null,
    }
    const decoder = createRelpDecoder()
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (session.death) return
          onFrame(session, frame)
        }
      } catch (err) {
        die(session, err as Error)
      }
    })
    socket.on('error', (err) => die(session, new RelpConnectionError(`RELP connection failed: ${err.message}`)))
    socket.on('end', () => die(session, new RelpConnectionError('RELP receiver closed the connection')))
    socket.on('close', () => die(session, new RelpConnectionError('RELP connection closed')))
    session.watchdog = setInterval(() => {
      if (session.pending.size > 0 && Date.now() - session.lastProgressAt > ackTimeoutMs) {
        die(session, new RelpConnectionError(`RELP receiver acknowledged nothing for ${ackTimeoutMs} ms`))
      }
    }, Math.max(10, Math.min(1_000, ackTimeoutMs / 4)))
    session.watchdog.unref?.()

    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const opened = await Promise.race([
        transact(session, 'open', relpOpenOffers(software)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RelpConnectionError(`RELP open handshake timed out after ${connectTimeoutMs} ms`)), connectTimeoutMs)
        }),
      ])
      if (!relpOffersSyslog(opened)) {
        throw new RelpConnectionError(`RELP receiver refused the session: ${opened.code} ${opened.message}`)
      }
    } catch (err) {
      die(session, err as Error)
      throw err
    } finally {
      clearTimeout(timer)
    }
    return session
  }

  /**
   * Sends `messages` on `session`, keeping at most `windowSize` unacknowledged. Marks each acknowledged
   * message in `acked`; resolves once all are, rejects when the session dies or a message is refused.
   * Once the window is full it waits until half of it is free (or all that is left fits), so that frames
   * go out many per socket write instead of one per acknowledgement.
   */
  async function sendOnSession(session: Session, messages: readonly string[], acked: boolean[], indices: readonly number[]): Promise<void> {
    let refused: RelpRefusedError | null = null
    let outstanding = 0
    let next = 0
    let allAcknowledged: (() => void) | null = null
    const settle = (index: number) => (response: RelpResponse) => {
      outstanding--
      if (response.code === 200) acked[index] = true
      else refused ??= new RelpRefusedError(`RELP receiver refused a message: ${response.code} ${response.message}`)
      if (outstanding === 0 && next === indices.length) allAcknowledged?.()
    }
    while (next < indices.length) {
      if (session.death) throw session.death
      const wanted = Math.min(Math.ceil(windowSize / 2), indices.length - next)
      if (windowSize - session.pending.size < wanted) {
        await untilDeath(session, new Promise<void>((resolve) => session.onAck.add(function wake() {
          if (windowSize - session.pending.size < wanted) return
          session.onAck.delete(wake)
          resolve()
        })))
        continue
      }
      let chunk = ''
      const end = Math.min(indices.length, next + windowSize - session.pending.size)
      for (; next < end; next++) {
        const index = indices[next]!
        session.txnr = nextRelpTxnr(session.txnr)
        if (session.pending.size === 0) session.lastProgressAt = Date.now()
        session.pending.set(session.txnr, settle(index))
        outstanding++
        chunk += encodeRelpFrame(session.txnr, 'syslog', messages[index]!)
      }
      await write(session, chunk)
    }
    if (outstanding > 0) await untilDeath(session, new Promise<void>((resolve) => (allAcknowledged = resolve)))
    if (refused) throw refused
  }

  return {
    send(messages) {
      if (closed) return Promise.reject(new Error('syslog transport is closed'))
      if (messages.length === 0) return Promise.resolve()
      return queue.run(async () => {
        const acked = new Array<boolean>(messages.length).fill(false)
        for (let attempt = 0; ; attempt++) {
          const indices = acked.flatMap((done, i) => (done ? [] : [i]))
          try {
            const session = current && !current.death ? current : (current = await openSession())
            await sendOnSession(session, messages, acked, indices)
            return
          } catch (err) {
            if (err instanceof RelpRefusedError || attempt >= maxReconnects || closed) throw err
          }
        }
      })
    },
    async close() {
      closed = true
      await queue.idle().catch(() => {})
      const session = current
      current = null
      if (!session || session.death) return
      let timer: ReturnType<typeof setTimeout> | undefined
      try {
        await Promise.race([
          transact(session, 'close', ''),
          new Promise((resolve) => {
            timer = setTimeout(resolve, 2_000)
          }),
        ])
      } catch {
        // The receiver went away meanwhile: nothing was outstanding, so nothing is lost.
      } finally {
        clearTimeout(timer)
        if (session.watchdog) clearInterval(session.watchdog)
        session.death ??= new RelpConnectionError('RELP session closed')
        session.socket.end()
        session.socket.destroy()
      }
    },
  }
}
