/** Formatting for the console's tables: local time, percentages, durations, counts. */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })

export const time = (iso: string | null | undefined) => (iso ? timeFormat.format(new Date(iso)) : '–')
export const dateTime = (iso: string | null | undefined) => (iso ? dateTimeFormat.format(new Date(iso)) : '–')
export const percent = (rate: number | null | undefined) => (rate === null || rate === undefined ? '–' : `${Math.round(rate * 100)}%`)
export const count = (n: number) => n.toLocaleString()
/** "1 failure", "2 failures". */
export const plural = (n: number, word: string, words = `${word}s`) => `${count(n)} ${n === 1 ? word : words}`

export function duration(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`
  if (seconds < 120) return `${Math.round(seconds)} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  return `${Math.round(seconds / 3600)} h`
}

/** A value for <input type="datetime-local"> in local time, and back. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso)
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000)
  return local.toISOString().slice(0, 16)
}
export const fromLocalInput = (value: string) => new Date(value).toISOString()

/** A console URL with query parameters, empty ones left out. */
export function href(path: string, query: Record<string, string | number | null | undefined> = {}): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== null && value !== undefined && value !== '') params.set(key, String(value))
  const search = params.toString()
  return `/console${path}${search ? `?${search}` : ''}`
}

export const eventsHref = (query: Record<string, string | null | undefined>) => href('/events', query)
export const lockoutHref = (identifier: string) => href(`/lockouts/${encodeURIComponent(identifier)}`)
