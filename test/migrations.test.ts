import { cp, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { migrate, MigrationChecksumError, MIGRATIONS_DIR } from '../src/db/migrate.ts'
import { useTestDatabase } from './support/database.ts'

const db = useTestDatabase('migrations')

describe('migrations', () => {
  it('are recorded with checksums and re-running applies nothing', async () => {
    const result = await migrate(db.sql)
    expect(result.applied).toEqual([])
    const rows = await db.sql`SELECT name, checksum FROM schema_migrations ORDER BY name`
    expect(rows.length).toBe(result.skipped.length)
    for (const r of rows) expect(r.checksum).toMatch(/^[0-9a-f]{64}$/)
  })

  it('refuse a migration that changed after it was applied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authtrail-migrations-'))
    await cp(MIGRATIONS_DIR, dir, { recursive: true })
    const [first] = await db.sql`SELECT name FROM schema_migrations ORDER BY name LIMIT 1`
    await writeFile(join(dir, first!.name), '-- edited\nSELECT 1;\n')
    await expect(migrate(db.sql, dir)).rejects.toBeInstanceOf(MigrationChecksumError)
  })
})
