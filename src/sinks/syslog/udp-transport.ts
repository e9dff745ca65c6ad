import { createSocket, type Socket } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { truncateCefMessage } from '../../core/datagram-truncation.ts'
import { createSerialQueue, type SyslogTransport } from './syslog-transport.ts'

export interface UdpTransportOptions {
  host: string
  port: number
  /**
   * Largest datagram sent; a longer message loses the fields at the end of its CEF extension, cut so
   * that it still parses (`truncateCefMessage`). RFC 5426 §3.2: receivers should take 2048 octets;
   * raise it only for a receiver known to accept more (rsyslog: its maxMessageSize; 65507 at most).
   */
  maxDatagramBytes?: number
  maxQueuedSends?: number
}

/**
 * Syslog over UDP (RFC 5426): one message per datagram, no framing. UDP confirms nothing: `send`
 * resolves once the kernel took every datagram, and a receiver that is down or overrun loses them
 * silently. The socket is connected, so that an ICMP port-unreachable from a closed receiver fails a
 * later send instead of vanishing. Use tcp:// or tls:// where events must not be lost.
 */
export function createUdpTransport(options: UdpTransportOptions): SyslogTransport {
  const maxDatagramBytes = options.maxDatagramBytes ?? 2048
  const queue = createSerialQueue(options.maxQueuedSends ?? 64)
  let socket: Promise<Socket> | null = null
  let closed = false

  const open = async (): Promise<Socket> => {
    const { address, family } = await lookup(options.host)
    const s = createSocket(family === 6 ? 'udp6' : 'udp4')
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.connect(options.port, address, () => {
        s.off('error', reject)
        resolve()
      })
    })
    // Errors also reach each send's callback; this listener only keeps an idle error from crashing.
    s.on('error', () => {})
    return s
  }

  return {
    send(messages) {
      if (closed) return Promise.reject(new Error('syslog transport is closed'))
      return queue.run(async () => {
        socket ??= open()
        let s: Socket
        try {
          s = await socket
        } catch (err) {
          socket = null
          throw err
        }
        await Promise.all(
          messages.map(
            (message) =>
              new Promise<void>((resolve, reject) =>
                s.send(Buffer.from(truncateCefMessage(message, maxDatagramBytes), 'utf8'), (err) => (err ? reject(err) : resolve())),
              ),
          ),
        )
      })
    },
    async close() {
      closed = true
      await queue.idle()
      const s = await socket?.catch(() => null)
      socket = null
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
    },
  }
}
