import { open, type FileHandle } from 'node:fs/promises'
import { createSerialQueue, type SyslogTransport } from './syslog-transport.ts'

export interface FileTransportOptions {
  path: string
  /** fsync after every batch: survives a power cut, at the cost of a disk flush per batch. Default off. */
  fsync?: boolean
}

/**
 * Appends one RFC 5424 line per message to a local file, for the embedded demo and for a local log
 * shipper to tail. Formatted messages never contain CR or LF, so a line is always a whole message.
 * A batch is one append, resolved once the operating system accepted it.
 */
export function createFileTransport(options: FileTransportOptions): SyslogTransport {
  const queue = createSerialQueue(64)
  let handle: FileHandle | null = null
  let closed = false

  return {
    send(messages) {
      if (closed) return Promise.reject(new Error('syslog transport is closed'))
      if (messages.length === 0) return Promise.resolve()
      return queue.run(async () => {
        handle ??= await open(options.path, 'a', 0o640)
        try {
          // appendFile loops until every byte is written; a single write() may be partial.
          await handle.appendFile(`${messages.join('\n')}\n`, 'utf8')
          if (options.fsync) await handle.sync()
        } catch (err) {
          // Reopen next time: the file may have been removed or the disk remounted.
          await handle.close().catch(() => {})
          handle = null
          throw err
        }
      })
    },
    async close() {
      closed = true
      await queue.idle()
      await handle?.close()
      handle = null
    },
  }
}
