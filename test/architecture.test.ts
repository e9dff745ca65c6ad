import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser'
import { describe, expect, it } from 'vitest'

/**
 * The floors of src/, lowest first. A module may import its own folder and any lower floor, never a
 * floor at its level or above: so `core` imports nothing of the project, `db` and `sinks` only `core`,
 * `errors` and `config`, and the entrypoints sit on top. Type-only imports count too.
 */
const FLOORS: readonly (readonly string[])[] = [
  // console: the browser app and its bundled assets, which import nothing of the service (only the API's types).
  ['core', 'console'],
  ['errors', 'config', 'version.ts'],
  ['db', 'sinks'],
  ['audit', 'outbox'],
  ['auth', 'investigation', 'admin', 'metrics', 'monitoring'],
  ['http'],
  ['routes'],
  ['app.ts'],
  ['openapi-document.ts'],
  ['cli'],
  ['runtime'],
]

const pathOf = (part: string) => (part.endsWith('.ts') ? `^src/${part.replace('.', '\\.')}$` : `^src/${part}/`)

/** For each part, every other part at its floor or above is forbidden. */
function layerRules(): IForbiddenRuleType[] {
  return FLOORS.flatMap((floor, level) =>
    floor.flatMap((part) => {
      const notBelow = FLOORS.slice(level).flat().filter((other) => other !== part)
      if (notBelow.length === 0) return []
      return {
        name: `layer-${part}`,
        comment: `src/${part} may import only its own folder and the floors below it`,
        severity: 'error' as const,
        from: { path: pathOf(part) },
        to: { path: notBelow.map(pathOf) },
      }
    }),
  )
}

async function cruiseSource(): Promise<ICruiseResult> {
  const result = await cruise(['src'], {
    validate: true,
    tsPreCompilationDeps: true,
    exclude: { path: '\\.test\\.ts$' },
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6'],
    ruleSet: {
      forbidden: [
        { name: 'no-circular', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
        // `bun` is the Bun runtime's own module, resolved only there.
        { name: 'no-unresolvable', severity: 'error', from: { path: '^src/' }, to: { couldNotResolve: true, pathNot: '^bun$' } },
        { name: 'not-to-tests', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench)/' } },
        ...layerRules(),
      ],
    },
  }, { conditionNames: ['import', 'node', 'default'], exportsFields: ['exports'], extensions: ['.ts', '.js', '.mjs', '.d.ts'], mainFields: ['module', 'main', 'types'] })
  return result.output as ICruiseResult
}

const describeViolation = (v: ICruiseResult['summary']['violations'][number]) =>
  `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`

describe('architecture of src/', () => {
  it('has no import cycle and no import from a lower floor to a higher one', async () => {
    const result = await cruiseSource()
    expect(result.summary.totalCruised).toBeGreaterThan(100)
    expect(result.summary.violations.map(describeViolation)).toEqual([])
  })

  it('places every folder of src/ on a floor', async () => {
    const result = await cruiseSource()
    const parts = new Set(result.modules.map((m) => m.source).filter((s) => s.startsWith('src/')).map((s) => s.split('/')[1]!))
    expect([...parts].filter((part) => !FLOORS.flat().includes(part))).toEqual([])
  })
})
