import canonicalize from 'canonicalize'
import type { AuthEvent } from './auth-event.ts'

const encoder = new TextEncoder()

/**
 * Serialises a value with the JSON Canonicalization Scheme (RFC 8785): sorted keys, ECMAScript number
 * formatting, no insignificant white space. The same value always yields the same bytes on every runtime.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('value cannot be canonicalised')
  return text
}

/** JCS string (or null) serialisation; like `canonicalize`, refuses a lone surrogate. */
function str(s: string | null): string {
  if (s !== null && !s.isWellFormed()) throw new TypeError('Lone surrogate is not allowed')
  return JSON.stringify(s)
}

/**
 * RFC 8785 for the one shape every event has, written out: the top-level keys in their canonical order
 * (UTF-16 code unit order, which for these ASCII names is plain sorting), each value serialised as JCS
 * prescribes (ECMAScript JSON.stringify for strings, null and integers), and the open-ended `risk` and
 * `metadata` objects through the general `canonicalize`. Verification spends most of its time here, and
 * this is several times faster than sorting the keys of every event; a test checks it byte for byte
 * against `canonicalJson` on ordinary and hostile events.
 */
export function canonicalEventJson(e: AuthEvent): string {
  const { head, tail } = canonicalEventParts(e)
  return head + integer(e.seq) + tail
}

/**
 * An event's canonical JSON without its sequence number: `head + seq + tail` is canonicalEventJson. The
 * append function in the database completes it with the number it assigns under the chain head's lock,
 * so the client can build the bytes before it knows its place in the chain.
 */
export function canonicalEventParts(e: Omit<AuthEvent, 'seq'>): { head: string; tail: string } {
  return {
    head:
      `{"actor_id":${str(e.actor_id)},"channel":${str(e.channel)},"device_id":${str(e.device_id)},` +
      `"event_type":${str(e.event_type)},"expires_at":${str(e.expires_at)},"id":${str(e.id)},` +
      `"identifier":${str(e.identifier)},"ip":${str(e.ip)},"metadata":${canonicalJson(e.metadata)},` +
      `"occurred_at":${str(e.occurred_at)},"organisation_id":${str(e.organisation_id)},"outcome":${str(e.outcome)},` +
      `"reason":${str(e.reason)},"risk":${canonicalJson(e.risk)},"seq":`,
    tail:
      `,"shard":${integer(e.shard)},` +
      `"tenant_id":${str(e.tenant_id)},"token_jti":${str(e.token_jti)},"user_agent":${str(e.user_agent)},"user_id":${str(e.user_id)}}`,
  }
}

function integer(n: number): string {
  if (!Number.isSafeInteger(n)) throw new TypeError(`not a safe integer: ${n}`)
  return String(n)
}

/** The canonical UTF-8 bytes of an event, the input of every digest. */
export function canonicalEventBytes(event: AuthEvent): Uint8Array {
  return encoder.encode(canonicalEventJson(event))
}
