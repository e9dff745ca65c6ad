import { hostname as osHostname } from 'node:os'
import type { OutboxPayload } from '../../core/auth-event.ts'
import { type CefDevice } from '../../core/cef.ts'
import { createSyslog5424Formatter } from '../../core/syslog-5424.ts'
import { PermanentSinkError, type EventSink } from '../event-sink.ts'
import { createFileTransport } from './file-transport.ts'
import { parseSyslogUrl } from './parse-syslog-url.ts'
import { createRelpTransport } from './relp-transport.ts'
import { createStreamTransport, type SyslogTlsFiles } from './stream-transport.ts'
import type { SyslogTransport } from './syslog-transport.ts'
import { createUdpTransport } from './udp-transport.ts'

export interface SyslogSinkOptions {
  /** `relp://host:port`, `relp+tls://host:port`, `udp://host:port`, `tcp://host:port`, `tls://host:port` or `file:///path` (the `SYSLOG_URL`). */
  url: string
  /** For `tls://` and `relp+tls://`: CA to verify the receiver, and a client certificate and key for mutual TLS. */
  tls?: SyslogTlsFiles
  /** RFC 5424 HOSTNAME; the machine's host name by default. */
  hostname?: string
  /** RFC 5424 APP-NAME; `authtrail` by default. */
  appName?: string
  /** RFC 5424 PROCID; this process's pid by default. */
  procId?: string
  /** CEF header device fields; `authtrail`/`authtrail`/`0` by default. Pass the release version. */
  device?: Partial<CefDevice>
  /** For `udp://`: larger messages are cut to this many bytes. Default 2048 (RFC 5426). */
  maxDatagramBytes?: number
  /** For `tcp://` and `tls://`: see `createStreamTransport` for the delivery confirmation rule. */
  connectTimeoutMs?: number
  firstWriteSettleMs?: number
  settleMs?: number
  maxWriteBytes?: number
  /** For `relp://` and `relp+tls://`: see `createRelpTransport`. */
  ackTimeoutMs?: number
  windowSize?: number
  /** Concurrent `deliver` calls allowed to wait before further ones are refused. Default 64. */
  maxQueuedBatches?: number
  /** For `file://`: fsync after every batch. */
  fsync?: boolean
}

/**
 * The SIEM sink: each event as CEF inside an RFC 5424 message (facility authpriv), sent to the
 * receiver `url` names. `deliver` resolves once the batch is delivered as far as the transport can
 * tell and rejects otherwise, for the relay to retry; deliver batches of one chain one after another
 * (awaiting each) to keep their order across a reconnect.
 *
 * @example
 * const sink = createSyslogSink({
 *   url: 'tls://siem.example.com:6514',
 *   tls: { caFile: '/etc/authtrail/siem-ca.pem', certFile: '/etc/authtrail/client.pem', keyFile: '/etc/authtrail/client.key' },
 * })
 * await sink.deliver(batch)
 */
export function createSyslogSink(options: SyslogSinkOptions): EventSink {
  const device: CefDevice = {
    deviceVendor: options.device?.deviceVendor ?? 'authtrail',
    deviceProduct: options.device?.deviceProduct ?? 'authtrail',
    deviceVersion: options.device?.deviceVersion ?? '0',
  }
  const format = createSyslog5424Formatter(device, {
    hostname: options.hostname ?? osHostname(),
    appName: options.appName ?? 'authtrail',
    procId: options.procId ?? String(process.pid),
  })
  const transport = createTransport(options)

  return {
    name: 'syslog',
    async deliver(batch: readonly OutboxPayload[]) {
      if (batch.length === 0) return
      await transport.send(batch.map((payload) => formatOrReject(payload, format)))
    },
    close: () => transport.close(),
  }
}

function createTransport(options: SyslogSinkOptions): SyslogTransport {
  const target = parseSyslogUrl(options.url)
  const maxQueuedSends = options.maxQueuedBatches ?? 64
  switch (target.kind) {
    case 'file':
      return createFileTransport({ path: target.path, fsync: options.fsync ?? false })
    case 'udp':
      return createUdpTransport({ ...target, maxDatagramBytes: options.maxDatagramBytes, maxQueuedSends })
    case 'relp':
    case 'relp+tls':
      checkTlsPair(options)
      return createRelpTransport({
        host: target.host,
        port: target.port,
        tls: target.kind === 'relp+tls' ? (options.tls ?? {}) : undefined,
        connectTimeoutMs: options.connectTimeoutMs,
        ackTimeoutMs: options.ackTimeoutMs,
        windowSize: options.windowSize,
        maxQueuedSends,
        software: `${options.device?.deviceProduct ?? 'authtrail'},${options.device?.deviceVersion ?? '0'}`,
      })
    case 'tcp':
    case 'tls':
      checkTlsPair(options)
      return createStreamTransport({
        host: target.host,
        port: target.port,
        tls: target.kind === 'tls' ? (options.tls ?? {}) : undefined,
        connectTimeoutMs: options.connectTimeoutMs,
        firstWriteSettleMs: options.firstWriteSettleMs,
        settleMs: options.settleMs,
        maxWriteBytes: options.maxWriteBytes,
        maxQueuedSends,
      })
  }
}

function checkTlsPair(options: SyslogSinkOptions): void {
  if (options.tls && (options.tls.certFile === undefined) !== (options.tls.keyFile === undefined)) {
    throw new Error('syslog TLS needs both certFile and keyFile, or neither')
  }
}

/** Formatting is total for well-typed events; an event it still chokes on is poison, not a transient failure. */
function formatOrReject(payload: OutboxPayload, format: (payload: OutboxPayload) => string): string {
  try {
    return format(payload)
  } catch (err) {
    throw new PermanentSinkError(`cannot format event as CEF: ${(err as Error).message}`, payload.event.id)
  }
}
