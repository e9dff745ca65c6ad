import { createServer, connect, type Server, type Socket } from 'node:net'

/** A TCP proxy in front of PostgreSQL that the fault tests use to break the network between the service and the database. */
export interface FaultProxy {
  url: string
  /** Resets every open connection at once (RST on both sides). */
  cut(): void
  /** Resets every open connection once the server has sent `bytes` more to the client: in the middle of a large answer. */
  cutAfterServerBytes(bytes: number): void
  /** Stops forwarding in both directions; new connections are accepted and held. */
  stall(): void
  /** Forwards again whatever was held. */
  resume(): void
  close(): Promise<void>
}

/** A proxy in front of the server of `databaseUrl`; its `url` is `databaseUrl` through the proxy (same user, database and parameters). */
export async function startFaultProxy(databaseUrl: string): Promise<FaultProxy> {
  const target = new URL(databaseUrl)
  const pairs = new Set<[Socket, Socket]>()
  let stalled = false
  /** Bytes the server may still send before every connection is reset (see cutAfterServerBytes); null: no cut armed. */
  let serverBytesLeft: number | null = null
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    for (const [from, to] of [pair, [upstream, client] as const]) {
      from.on('data', (chunk: Buffer) => {
        to.write(chunk)
        if (from === upstream && serverBytesLeft !== null && (serverBytesLeft -= chunk.length) <= 0) {
          serverBytesLeft = null
          cut()
        }
      })
      from.on('error', () => to.destroy())
      from.on('close', () => {
        to.destroy()
        pairs.delete(pair)
      })
      if (stalled) from.pause()
    }
  })
  function cut() {
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy()
      upstream.resetAndDestroy()
    }
    pairs.clear()
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const proxied = new URL(databaseUrl)
  proxied.hostname = '127.0.0.1'
  proxied.port = String((server.address() as { port: number }).port)
  return {
    url: proxied.href,
    cut,
    cutAfterServerBytes: (bytes) => {
      serverBytesLeft = bytes
    },
    stall: () => {
      stalled = true
      for (const pair of pairs) for (const s of pair) s.pause()
    },
    resume: () => {
      stalled = false
      for (const pair of pairs) for (const s of pair) s.resume()
    },
    close: async () => {
      for (const pair of pairs) for (const s of pair) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
