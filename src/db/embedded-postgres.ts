import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'

/** A PostgreSQL served from a local folder by PGlite, for running the service with nothing installed. */
export interface EmbeddedPostgres {
  url: string
  stop(): Promise<void>
}

/** A port that was free a moment ago on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/**
 * Starts PGlite on `dataDir` and serves it over the PostgreSQL wire protocol on loopback, so the same
 * `postgres` client and SQL run against it as against a real server. PGlite has one backend: the client
 * must use a single connection (transactions would otherwise interleave).
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  await mkdir(dataDir, { recursive: true })
  const { PGlite } = await import('@electric-sql/pglite')
  const { pgcrypto } = await import('@electric-sql/pglite/contrib/pgcrypto')
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  // pgcrypto: the append function computes SHA3-256 with it.
  const db = await PGlite.create(dataDir, { extensions: { pgcrypto } })
  const port = await freePort()
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 1 })
  await server.start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop()
      await db.close()
    },
  }
}
