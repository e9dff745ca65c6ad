import type { JsonValue } from './auth-event.ts'

/**
 * Replaces lone UTF-16 surrogates (and NUL) with U+FFFD. A JSON body can carry them ("\ud800"), but RFC 8785 (which
 * follows I-JSON) refuses them and PostgreSQL's UTF-8 text cannot store them, so every string an event
 * records is made well-formed first: what is hashed is exactly what is stored.
 */
export function wellFormed(s: string): string {
  const text = s.isWellFormed() ? s : s.toWellFormed()
  // NUL is valid Unicode but PostgreSQL's text and jsonb refuse it: it is recorded as U+FFFD too.
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\ufffd') : text
}

export function wellFormedOrNull(s: string | null): string | null {
  return s === null ? null : wellFormed(s)
}

/** The same for every string (keys included) inside a JSON value. */
export function wellFormedJson<T extends JsonValue>(value: T): T {
  if (typeof value === 'string') return wellFormed(value) as T
  if (Array.isArray(value)) return value.map((v) => wellFormedJson(v)) as T
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [wellFormed(k), wellFormedJson(v)])) as T
  }
  return value
}
