import { connect } from 'node:net'

/** A response as read off the wire: status, lower-cased headers (repeated ones joined), body bytes. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** A request given as bytes exactly as they go on the wire: nothing is validated or encoded on the way. */
export interface RawRequest {
  method: string
  /** The request target, already percent-encoded as the test wants it (or not). */
  target: string
  /** Header lines as [name, value bytes]; values may hold any byte, invalid UTF-8 included. */
  headers: [string, Buffer | string][]
  body?: Buffer
}

function decodeChunked(data: Buffer): Buffer {
  const parts: Buffer[] = []
  let offset = 0
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset)
    if (lineEnd < 0) break
    const size = Number.parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    offset = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

function parseResponse(data: Buffer): RawResponse {
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(data.subarray(0, 200).toString('latin1'))}`)
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1])
  if (!Number.isInteger(status)) throw new Error(`not an HTTP status line: ${statusLine}`)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  let body = data.subarray(end + 4)
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = decodeChunked(body)
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']))
  return { status, headers, body }
}

/**
 * Sends one request over a fresh connection (Connection: close) and reads the whole answer. An event
 * stream is cut once its head has arrived. Rejects if no answer comes within `timeoutMs`.
 */
export function sendRaw(port: number, request: RawRequest, timeoutMs = 60_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    let settled = false
    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error) return reject(error)
      try {
        resolve(parseResponse(Buffer.concat(chunks)))
      } catch (failure) {
        reject(failure as Error)
      }
    }
    const timer = setTimeout(() => finish(new Error(`no answer to ${request.method} ${request.target} within ${timeoutMs} ms`)), timeoutMs)
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      const head = Buffer.concat(chunks)
      if (/\r\ncontent-type: text\/event-stream/i.test(head.toString('latin1')) && head.includes('\r\n\r\n')) finish()
    })
    socket.on('end', () => finish())
    socket.on('close', () => finish())
    socket.on('error', (error) => (chunks.length ? finish() : finish(error)))
    const body = request.body ?? Buffer.alloc(0)
    const head: Buffer[] = [Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1')]
    for (const [name, value] of request.headers) head.push(Buffer.from(`${name}: `, 'latin1'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), Buffer.from('\r\n'))
    if (body.length > 0 || request.method === 'POST') head.push(Buffer.from(`Content-Length: ${body.length}\r\n`))
    head.push(Buffer.from('\r\n'))
    socket.write(Buffer.concat([...head, body]))
  })
}
