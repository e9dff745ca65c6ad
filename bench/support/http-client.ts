import { connect, type Socket } from 'node:net'

export interface HttpAnswer {
  status: number
  body: string
}

/**
 * A minimal HTTP/1.1 keep-alive connection for load generation: requests are pre-serialised bytes and
 * answers are parsed just enough (status line, Content-Length or chunked body). It costs the machine a
 * few microseconds per request, where a general client costs tens: on two cores, everything the load
 * generator burns is taken from the service being measured.
 */
export class HttpConnection {
  private socket: Socket
  private buffer: Buffer = Buffer.alloc(0)
  private pending: { resolve: (a: HttpAnswer) => void; reject: (e: Error) => void } | null = null
  private closedError: Error | null = null

  private constructor(socket: Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk
      this.tryParse()
    })
    const fail = (error: Error) => {
      this.closedError = error
      this.pending?.reject(error)
      this.pending = null
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('connection closed')))
  }

  static open(port: number, host = '127.0.0.1'): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host)
      socket.once('connect', () => resolve(new HttpConnection(socket)))
      socket.once('error', reject)
    })
  }

  /** Sends one request (bytes from `buildPost`) and resolves with the answer. One request at a time. */
  send(request: Buffer): Promise<HttpAnswer> {
    if (this.closedError) return Promise.reject(this.closedError)
    if (this.pending) return Promise.reject(new Error('one request at a time per connection'))
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
      this.socket.write(request)
    })
  }

  close(): void {
    this.socket.destroy()
  }

  private tryParse(): void {
    if (!this.pending) return
    const headerEnd = this.buffer.indexOf('\r\n\r\n')
    if (headerEnd < 0) return
    const head = this.buffer.subarray(0, headerEnd).toString('latin1')
    const status = Number(head.slice(9, 12))
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
    let body: string
    let consumed: number
    if (length) {
      consumed = headerEnd + 4 + Number(length[1])
      if (this.buffer.length < consumed) return
      body = this.buffer.subarray(headerEnd + 4, consumed).toString('utf8')
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const parts: Buffer[] = []
      let at = headerEnd + 4
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at)
        if (lineEnd < 0) return
        const size = Number.parseInt(this.buffer.subarray(at, lineEnd).toString('latin1'), 16)
        if (this.buffer.length < lineEnd + 2 + size + 2) return
        if (size === 0) {
          consumed = lineEnd + 4
          break
        }
        parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
        at = lineEnd + 2 + size + 2
      }
      body = Buffer.concat(parts).toString('utf8')
    } else {
      consumed = headerEnd + 4
      body = ''
    }
    this.buffer = this.buffer.subarray(consumed)
    const { resolve } = this.pending
    this.pending = null
    resolve({ status, body })
  }
}

/** Serialises a JSON POST once, to be sent many times. */
export function buildPost(path: string, body: unknown, headers: Record<string, string> = {}): Buffer {
  const json = Buffer.from(JSON.stringify(body))
  const lines = [
    `POST ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    'User-Agent: authtrail-bench/1.0',
    `Content-Length: ${json.length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ]
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), json])
}
