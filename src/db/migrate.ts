import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { Sql } from './client.ts'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

export interface MigrationResult {
  applied: string[]
  skipped: string[]
}

/** Raised when a migration already applied no longer matches its file: migrations are forward-only. */
export class MigrationChecksumError extends Error {
  constructor(readonly migration: string) {
    super(`migration ${migration} was changed after it was applied; add a new migration instead`)
  }
}

/**
 * Applies `migrations/*.sql` in name order, each in its own transaction, recording a SHA-256 checksum.
 * A changed file that was already applied is refused. Concurrent runners serialise on an advisory lock.
 */
export async function migrate(sql: Sql, dir: string = MIGRATIONS_DIR): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  const result: MigrationResult = { applied: [], skipped: [] }
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('authtrail.migrations'))`
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`
    const rows = await tx<{ name: string; checksum: string }[]>`SELECT name, checksum FROM schema_migrations`
    const applied = new Map(rows.map((r) => [r.name, r.checksum]))
    for (const file of files) {
      const text = await readFile(`${dir}/${file}`, 'utf8')
      const checksum = bytesToHex(sha256(new TextEncoder().encode(text)))
      const known = applied.get(file)
      if (known !== undefined) {
        if (known !== checksum) throw new MigrationChecksumError(file)
        result.skipped.push(file)
        continue
      }
      await tx.unsafe(text)
      await tx`INSERT INTO schema_migrations (name, checksum) VALUES (${file}, ${checksum})`
      result.applied.push(file)
    }
  })
  return result
}
