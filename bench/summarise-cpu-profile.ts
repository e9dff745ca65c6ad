/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package or source
 * folder, busy time only (idle and GC shown apart). Evidence for where the Node side spends its CPU.
 *
 *   tsx bench/summarise-cpu-profile.ts <file.cpuprofile> [--top=25]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileSummary {
  totalMs: number
  idleMs: number
  gcMs: number
  byFunction: { name: string; ms: number; share: number }[]
  byArea: { area: string; ms: number; share: number }[]
}

/** Groups a script URL into what a reader recognises: a package, a src/ folder, node internals. */
function areaOf(url: string, functionName: string): string {
  if (functionName === '(program)') return '(program: native, outside JS)'
  if (!url) return `(native: ${functionName || 'anonymous'})`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const src = /\/(src|bench|test)\/(.*)$/.exec(url)
  if (src) return `${src[1]}/${src[2]!.split('/').slice(0, -1).join('/') || '.'}`
  return url
}

export function summariseCpuProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000))
  let idleMs = 0
  let gcMs = 0
  let totalMs = 0
  const fn = new Map<string, number>()
  const area = new Map<string, number>()
  for (const [id, ms] of self) {
    const node = byId.get(id)!
    const { functionName, url, lineNumber } = node.callFrame
    totalMs += ms
    if (functionName === '(idle)') {
      idleMs += ms
      continue
    }
    if (functionName === '(garbage collector)') gcMs += ms
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim()
    fn.set(key, (fn.get(key) ?? 0) + ms)
    const a = areaOf(url, functionName)
    area.set(a, (area.get(a) ?? 0) + ms)
  }
  const busy = totalMs - idleMs
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
  return {
    totalMs,
    idleMs,
    gcMs,
    byFunction: rank(fn).map(([name, ms]) => ({ name, ms, share: ms / busy })),
    byArea: rank(area).map(([a, ms]) => ({ area: a, ms, share: ms / busy })),
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const file = process.argv[2]
  if (!file) throw new Error('usage: tsx bench/summarise-cpu-profile.ts <file.cpuprofile> [--top=25]')
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25)
  const s = summariseCpuProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top)
  const busy = s.totalMs - s.idleMs
  console.log(`profile ${(s.totalMs / 1000).toFixed(1)} s: busy ${(busy / 1000).toFixed(1)} s (${((100 * busy) / s.totalMs).toFixed(0)} %), GC ${(s.gcMs / 1000).toFixed(2)} s`)
  console.log('\nself time by area (share of busy time)')
  for (const a of s.byArea) console.log(`  ${(100 * a.share).toFixed(1).padStart(5)} %  ${a.ms.toFixed(0).padStart(7)} ms  ${a.area}`)
  console.log('\nself time by function')
  for (const f of s.byFunction) console.log(`  ${(100 * f.share).toFixed(1).padStart(5)} %  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}`)
}
