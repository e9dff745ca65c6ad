import { STATUS_CODES, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'
import { PROBLEM_CONTENT_TYPE, toProblem } from '../errors/problem.ts'
import { MAX_HEADER_BYTES, SERVER_REFUSAL, type ServerRefusal } from '../http/limit-headers.ts'

/** What the Node server needs of the application: its fetch handler. */
export interface FetchApp {
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>
}

/**
 * Node's own limit on the request head. It is set above the application's (MAX_HEADER_BYTES), so that
 * headers between the two reach the application, which answers (and audits) them; only larger ones are
 * refused by the server itself (see answerClientError).
 */
export const NODE_MAX_HEADER_BYTES = 4 * MAX_HEADER_BYTES

/** The peer address as Node's HTTP server sees it. */
export function nodePeerAddress(c: Context): string | null {
  return getConnInfo(c).remote.address ?? null
}

const REQUEST_LINE = /^([A-Z]{3,10}) (\/[\x21-\x7e]{0,65536}) HTTP\/1\.[01]\r?\n/

/**
 * The request line each connection last began, kept because Node's parser reports an overflowing head
 * with only its last chunk: without it, a refused attempt could not be placed on its route.
 */
const lastRequestLine = new WeakMap<Socket, RegExpExecArray>()

async function writeResponse(socket: Socket, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer())
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}`]
  response.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'connection' && name !== 'transfer-encoding') lines.push(`${name}: ${value}`)
  })
  lines.push(`content-length: ${body.length}`, 'connection: close', '', '')
  // The rest of the refused request is never read: the connection is closed once the answer is out.
  if (socket.writable) socket.end(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]), () => socket.destroy())
  else socket.destroy()
}

/**
 * A request Node's parser refused (headers over its limit, bytes HTTP does not allow): instead of Node's
 * bare 400 or 431, the application answers it, as problem+json, from a stand-in request that has only
 * the method and path of the request line (when that much was readable), so that a refused attempt on an
 * authentication route is audited like every other.
 */
async function answerClientError(app: FetchApp, error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): Promise<void> {
  if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy()
  const reason: ServerRefusal = error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'malformed_headers'
  const line = (error.rawPacket ? REQUEST_LINE.exec(error.rawPacket.subarray(0, 65_600).toString('latin1')) : null) ?? lastRequestLine.get(socket) ?? null
  try {
    if (line && !['HEAD', 'CONNECT', 'OPTIONS', 'TRACE'].includes(line[1]!)) {
      const request = new Request(`http://localhost${line[2]}`, { method: line[1] })
      return await writeResponse(socket, await app.fetch(request, { incoming: { socket }, [SERVER_REFUSAL]: reason }))
    }
  } catch {
    // Not a request the application can be given (an unknown method, a target URL cannot hold): answered below.
  }
  const code = reason === 'headers_too_large' ? 'headers_too_large' : 'malformed_request'
  const problem = toProblem(code, { errors: [{ field: 'headers', detail: reason === 'headers_too_large' ? `must total at most ${MAX_HEADER_BYTES} bytes` : 'not valid HTTP' }] })
  await writeResponse(socket, new Response(JSON.stringify(problem), { status: problem.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store' } }))
}

/**
 * Serves the application with Node's HTTP server; requests its parser refuses are answered by
 * answerClientError.
 *
 * @example
 * const server = serveNode(services.app, { port: 3000, hostname: '127.0.0.1' }, (port) => console.log(port))
 */
export function serveNode(app: FetchApp, options: { port: number; hostname: string }, onListen?: (port: number) => void): Server {
  const server = serve(
    { fetch: app.fetch, port: options.port, hostname: options.hostname, serverOptions: { maxHeaderSize: NODE_MAX_HEADER_BYTES } },
    (info) => onListen?.(info.port),
  ) as Server
  server.on('connection', (socket: Socket) => {
    // A 'data' listener makes Node feed its parser from JavaScript instead of directly from the handle.
    socket.on('data', (chunk: Buffer) => {
      const line = REQUEST_LINE.exec(chunk.subarray(0, 65_600).toString('latin1'))
      if (line) lastRequestLine.set(socket, line)
    })
  })
  // Once a request reaches the application, a later parse error on its connection (the unread rest of a
  // refused body) is not that request again.
  server.on('request', (request: { socket: Socket }) => lastRequestLine.delete(request.socket))
  // Node reports a broken head again for each further chunk that arrives: only the first report is answered.
  const answered = new WeakSet<Socket>()
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (answered.has(socket)) return
    answered.add(socket)
    socket.pause()
    answerClientError(app, error, socket).catch(() => socket.destroy())
  })
  return server
}
