import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { Env } from '../config/env.ts'
import type { Sql } from './client.ts'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

/** The names of the four database roles (see the roles migration); configurable, these are the defaults. */
export interface RoleNames {
  owner: string
  runtime: string
  retention: string
  auditor: string
}

export const DEFAULT_ROLE_NAMES: RoleNames = {
  owner: 'authtrail_owner',
  runtime: 'authtrail_runtime',
  retention: 'authtrail_retention',
  auditor: 'authtrail_auditor',
}

/** The role names the configuration gives (DATABASE_*_ROLE). */
export function roleNamesOf(env: Pick<Env, 'DATABASE_OWNER_ROLE' | 'DATABASE_RUNTIME_ROLE' | 'DATABASE_RETENTION_ROLE' | 'DATABASE_AUDITOR_ROLE'>): RoleNames {
  return { owner: env.DATABASE_OWNER_ROLE, runtime: env.DATABASE_RUNTIME_ROLE, retention: env.DATABASE_RETENTION_ROLE, auditor: env.DATABASE_AUDITOR_ROLE }
}

export interface MigrateOptions {
  dir?: string
  /** The roles to create (if missing) and grant after migrating; default DEFAULT_ROLE_NAMES. */
  roles?: RoleNames
}

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
 * Applies `migrations/*.sql` in name order, recording a SHA-256 checksum, then applies the roles
 * (authtrail_apply_roles: creates the missing ones, gives every object to the owner, grants what
 * authtrail_role_grants lists), all in one transaction. A changed file that was already applied is
 * refused. Concurrent runners serialise on an advisory lock. Run it as the owner role, or as a role that
 * may create roles and act as the owner (a superuser the first time).
 */
export async function migrate(sql: Sql, options: MigrateOptions | string = {}): Promise<MigrationResult> {
  const { dir = MIGRATIONS_DIR, roles = DEFAULT_ROLE_NAMES } = typeof options === 'string' ? { dir: options } : options
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
    await tx`SELECT authtrail_apply_roles(${roles.owner}, ${roles.runtime}, ${roles.retention}, ${roles.auditor})`
  })
  return result
}
