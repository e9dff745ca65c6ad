import type { Sql } from '../db/client.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Resolves ids or slugs (or all tenants) to rows, reporting names that match nothing. */
export async function resolveTenants(sql: Sql, names: string[], all: boolean): Promise<{ found: { id: string; slug: string }[]; unknown: string[] }> {
  if (all) return { found: await sql<{ id: string; slug: string }[]>`SELECT id, slug FROM tenants ORDER BY slug`, unknown: [] }
  const found: { id: string; slug: string }[] = []
  const unknown: string[] = []
  for (const name of names) {
    const [row] = UUID.test(name)
      ? await sql<{ id: string; slug: string }[]>`SELECT id, slug FROM tenants WHERE id = ${name}`
      : await sql<{ id: string; slug: string }[]>`SELECT id, slug FROM tenants WHERE slug = ${name}`
    if (row) found.push(row)
    else unknown.push(name)
  }
  return { found, unknown }
}
