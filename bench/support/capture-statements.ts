import postgres from 'postgres'
import type { Sql } from '../../src/db/client.ts'

/** One statement as the client sent it: the text, its parameter values (serialised) and their type OIDs. */
export interface CapturedStatement {
  text: string
  parameters: unknown[]
  types: number[]
}

/**
 * Runs `fn` with a one-connection client whose debug hook records every statement it sends, so that a
 * benchmark can replay exactly what the service code sent. The client's own start-up queries (the array
 * type lookup) are left out.
 */
export async function captureStatements<T>(url: string, fn: (sql: Sql) => Promise<T>): Promise<{ result: T; statements: CapturedStatement[] }> {
  const statements: CapturedStatement[] = []
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    debug: (_connection: number, text: string, parameters: unknown[], types: number[]) => {
      statements.push({ text, parameters: [...parameters], types: [...types] })
    },
    // The same int8 parsing as src/db/client.ts, so that the service code sees what it always sees.
    types: { bigint: { to: 20, from: [20], serialize: (x: number | bigint) => String(x), parse: (x: string) => Number(x) } },
  } as never) as unknown as Sql
  try {
    const result = await fn(sql)
    return { result, statements: statements.filter((s) => !s.text.includes('pg_catalog.pg_type')) }
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/** How a captured parameter is fed in the pgbench script. */
export type Binding =
  | { kind: 'variable'; name: string }
  /** A SQL expression inlined in place of the parameter (values pgbench cannot compute, e.g. a UUID). */
  | { kind: 'expression'; sql: string }

export interface PgbenchScript {
  script: string
  defines: Record<string, string>
  /** Which parameter of which statement became what, for the report. */
  substitutions: string[]
}

/**
 * Turns captured statements into a pgbench custom script that sends the same statement texts in the
 * same order. Each parameter is named after its column (from `col = $n` or an INSERT's column list) and
 * bound by `bind`: to a pgbench variable, to an inlined expression, or (when `bind` returns undefined) to
 * the captured value itself as a `-D` constant. Captured NULLs are inlined as NULL (pgbench variables
 * cannot hold NULL). Statements listed in `gset` end with `\gset` so their RETURNING values become
 * variables, as the service reads them.
 */
export function toPgbenchScript(
  statements: CapturedStatement[],
  bind: (column: string | null, statementIndex: number) => Binding | undefined,
  gset: (text: string) => boolean,
): PgbenchScript {
  const defines: Record<string, string> = {}
  const substitutions: string[] = []
  const lines: string[] = []
  statements.forEach((statement, si) => {
    const columns = parameterColumns(statement.text)
    const text = statement.text.trim().replace(/\$(\d+)/g, (_, digits: string) => {
      const n = Number(digits)
      const column = columns.get(n) ?? null
      const value = statement.parameters[n - 1]
      if (value === null || value === undefined) {
        substitutions.push(`s${si} $${n} (${column ?? '?'}) → NULL`)
        return 'NULL'
      }
      const binding = bind(column, si)
      if (binding?.kind === 'variable') {
        substitutions.push(`s${si} $${n} (${column ?? '?'}) → :${binding.name}`)
        return `:${binding.name}`
      }
      if (binding?.kind === 'expression') {
        substitutions.push(`s${si} $${n} (${column ?? '?'}) → ${binding.sql}`)
        return binding.sql
      }
      const name = `c${si}_${n}`
      defines[name] = serialise(value)
      return `:${name}`
    })
    lines.push(gset(statement.text) ? `${text} \\gset` : `${text};`)
  })
  return { script: `${lines.join('\n')}\n`, defines, substitutions }
}

function serialise(value: unknown): string {
  if (typeof value === 'string') return value
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** Maps parameter numbers to the column they are written to or compared with. */
export function parameterColumns(text: string): Map<number, string> {
  const map = new Map<number, string>()
  for (const m of text.matchAll(/([a-z_][a-z0-9_]*)"?\s*=\s*\$(\d+)/gi)) map.set(Number(m[2]), m[1]!)
  for (const m of text.matchAll(/\(([^()]*)\)\s*values\s*\(([^()]*)\)/gi)) {
    const cols = m[1]!.split(',').map((c) => c.trim().replace(/"/g, ''))
    const params = m[2]!.split(',').map((p) => p.trim())
    params.forEach((p, i) => {
      const n = /^\$(\d+)$/.exec(p)
      if (n && cols[i]) map.set(Number(n[1]), cols[i]!)
    })
  }
  return map
}
