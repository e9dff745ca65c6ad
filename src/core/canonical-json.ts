import canonicalize from 'canonicalize'
import type { AuthEvent } from './auth-event.ts'

const encoder = new TextEncoder()

/**
 * Serialises a value with the JSON Canonicalization Scheme (RFC 8785): sorted keys, ECMAScript number
 * formatting, no insignificant white space. The same event always yields the same bytes on every runtime.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('value cannot be canonicalised')
  return text
}

/** The canonical UTF-8 bytes of an event, the input of every digest. */
export function canonicalEventBytes(event: AuthEvent): Uint8Array {
  return encoder.encode(canonicalJson(event))
}
