import { describe, expect, it } from 'vitest'
import { copyInstant } from './auth-log-copy.ts'

/** timestamptz as PostgreSQL writes it in UTC: trailing zeros of the fraction dropped, no fraction at whole seconds. */
function pgText(ms: number, micros: number): string {
  const iso = new Date(ms).toISOString()
  const fraction = `${iso.slice(20, 23)}${String(micros).padStart(3, '0')}`.replace(/0+$/, '')
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''}+00`
}

describe('copyInstant', () => {
  it('gives exactly what Date gives, over instants of years 1000–2999 with 0–6 fraction digits', () => {
    let seed = 7
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const lo = Date.UTC(1000, 0, 1)
    const hi = Date.UTC(2999, 11, 31, 23, 59, 59, 999)
    const samples = [
      pgText(Date.UTC(2024, 1, 29, 23, 59, 59, 999), 999),
      pgText(Date.UTC(2026, 0, 1), 0),
      pgText(Date.UTC(2026, 0, 1, 0, 0, 0, 500), 0),
      pgText(Date.UTC(1000, 0, 1), 1),
      pgText(hi, 999),
    ]
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(lo + next() * (hi - lo))
      samples.push(pgText(i % 4 === 0 ? ms - (ms % 1000) : ms, i % 3 === 0 ? 0 : Math.floor(next() * 1000)))
    }
    const fractions = new Set(samples.map((s) => (s.match(/\.(\d+)/)?.[1] ?? '').length))
    expect([...fractions].sort()).toEqual([0, 1, 2, 3, 4, 5, 6])
    for (const s of samples) expect(copyInstant(s), s).toBe(new Date(s).toISOString())
  })

  it('leaves every other spelling to Date, as before', () => {
    for (const s of ['2026-11-01 21:32:07.285+01', '0099-01-01 00:00:00+00', '3026-11-01 21:32:07+00', '2026-11-01 21:32:07.1234567+00']) {
      expect(copyInstant(s), s).toBe(new Date(s).toISOString())
    }
    for (const s of ['infinity', '-infinity', '2026-11-01 21:32:07+00 BC']) expect(() => copyInstant(s), s).toThrow(RangeError)
  })
})
