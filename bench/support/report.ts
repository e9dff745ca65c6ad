/** One headline figure, always stated against a baseline measured in the same run. */
export interface Figure {
  name: string
  value: number
  unit: string
  baseline?: { name: string; value: number }
  /** value / baseline, unless `ratioMeaning` defines it otherwise. */
  ratio?: number
  /** Names a ratio that is not value / baseline (e.g. 'overhead'). */
  ratioMeaning?: string
  /** '×' (default) or '%'. */
  ratioUnit?: '×' | '%'
  /** `met: null` when this run could not judge it (e.g. the size it names was not run). */
  target?: { text: string; met: boolean | null }
}

export interface Table {
  title: string
  columns: string[]
  rows: (string | number)[][]
}

export interface BenchmarkResult {
  name: string
  title: string
  seconds: number
  tables: Table[]
  figures: Figure[]
  notes: string[]
  /** Whatever else a reader may want (raw series, the generated pgbench script's path). */
  details?: Record<string, unknown>
  skipped?: string
  error?: string
}

export interface BenchContext {
  quick: boolean
  /** Opt-in parts too slow for the 10-minute budget (the 10M-event query benchmark). */
  full: boolean
  /** Overrides the write path's client counts (for profiling one of them). */
  clients: number[] | null
  /** Overrides the event count of benchmarks that load a chain (verify-anchors). */
  events: number | null
  /** Where a benchmark may leave artefacts (generated scripts, profiles). */
  artefactDir: string
  log(message: string): void
}

export interface Benchmark {
  name: string
  title: string
  run(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'name' | 'title' | 'seconds'>>
}

/** Formats a number for a table: thousands separators, sensible precision. */
export function fmt(value: number | string | null | undefined, digits?: number): string {
  if (value === null || value === undefined) return '–'
  if (typeof value === 'string') return value
  if (!Number.isFinite(value)) return '–'
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2)
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

export function ratioText(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '–' : `${r.toFixed(2)}×`
}

/** A plain-text table for the terminal. */
export function textTable(table: Table): string {
  const cells = [table.columns, ...table.rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))]
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)))
  const line = (r: (string | number)[]) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ')
  return [table.title, line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}

export function markdownTable(table: Table): string {
  const cells = table.rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))
  return [
    `**${table.title}**`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `|${table.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...cells.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

function ratioOf(f: Figure): string {
  return f.ratioUnit === '%' ? `${fmt(f.ratio, 1)} %` : ratioText(f.ratio)
}

export function figureLine(f: Figure): string {
  const base = f.baseline ? ` vs ${f.baseline.name} ${fmt(f.baseline.value)}` : ''
  const ratio = f.ratio !== undefined ? ` → ${f.ratioMeaning ? `${f.ratioMeaning} ` : ''}${ratioOf(f)}` : ''
  const target = f.target ? ` [target ${f.target.text}: ${f.target.met === null ? 'not judged in this run' : f.target.met ? 'met' : 'MISSED'}]` : ''
  return `${f.name}: ${fmt(f.value)} ${f.unit}${base}${ratio}${target}`
}

/** The figures of every benchmark as one table, for the summary's top. */
export function figuresTable(results: BenchmarkResult[]): Table {
  const rows: (string | number)[][] = []
  for (const r of results) {
    for (const f of r.figures) {
      rows.push([
        f.name,
        `${fmt(f.value)} ${f.unit}`,
        f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value)}` : '–',
        f.ratio === undefined ? '–' : `${f.ratioMeaning ? `${f.ratioMeaning} ` : ''}${ratioOf(f)}`,
        f.target ? `${f.target.text} ${f.target.met === null ? '(not judged)' : f.target.met ? '✓' : '✗'}` : '–',
      ])
    }
  }
  return { title: 'Headline figures (each against a baseline from the same run)', columns: ['figure', 'value', 'baseline', 'ratio', 'target'], rows }
}
