import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { createServer } from 'node:net'
import process from 'node:process'

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

/** Another live process holds the embedded database's data directory (its lock file names the process). */
export class DataDirectoryLockedError extends Error {
  override name = 'DataDirectoryLockedError'
  readonly code = 'DATA_DIRECTORY_LOCKED'
  constructor(dataDir: string, pid: number) {
    super(`${dataDir} is in use by process ${pid} (lock file ${lockFileOf(dataDir)}); stop it first, or give this one another DATA_DIR`)
  }
}

const lockFileOf = (dataDir: string) => `${dataDir}.lock`

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as { code?: string }).code === 'EPERM'
  }
}

/**
 * Takes the data directory for this process: PGlite has one backend and no lock of its own, and two
 * processes on one directory corrupt it. The lock file (next to the directory) holds the owner's pid; one
 * left by a process that died is taken over. Returns the release.
 */
async function lockDataDirectory(dataDir: string): Promise<() => Promise<void>> {
  const file = lockFileOf(dataDir)
  for (let tries = 0; ; tries++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => unlink(file).catch(() => {})
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST' || tries > 2) throw error
    }
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) throw new DataDirectoryLockedError(dataDir, pid)
    await unlink(file).catch(() => {})
  }
}

/**
 * Starts PGlite on `dataDir` and serves it over the PostgreSQL wire protocol on loopback, so the same
 * `postgres` client and SQL run against it as against a real server. PGlite has one backend: the client
 * must use a single connection (transactions would otherwise interleave).
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  await mkdir(dataDir, { recursive: true })
  const release = await lockDataDirectory(dataDir)
  try {
    return await serveEmbedded(dataDir, release)
  } catch (error) {
    await release()
    throw error
  }
}

async function serveEmbedded(dataDir: string, release: () => Promise<void>): Promise<EmbeddedPostgres> {
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
      await release()
    },
  }
}
