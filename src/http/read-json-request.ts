import type { z } from 'zod'
import { ApiError } from '../errors/codes.ts'
import type { AppContext } from './app-env.ts'
import { MAX_BODY_BYTES, payloadTooLarge } from './limit-body.ts'
import { validationError } from './validation-hook.ts'

/** A request read and validated, or why not, with the body text when it was read (never when too large). */
export type JsonRequest<H, B> =
  | { ok: true; headers: H; body: B; raw: string }
  | { ok: false; error: ApiError; raw: string | null }

// The media types OpenAPIHono accepts for a JSON body, and the one hono's validator parses.
const JSON_CONTENT_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i

/**
 * Reads the body, at most MAX_BODY_BYTES of it (a larger one is refused without reading further), as
 * UTF-8 text the way Request.text() decodes it, with its size in bytes; null when it is too large.
 *
 * A body whose Content-Length is declared within the bound is read whole: HTTP framing ends it there. It
 * is read through the Request's own arrayBuffer(), which on Node (@hono/node-server) takes the bytes from
 * the incoming message directly; touching `request.body` there builds a full Request around a web stream
 * of the message instead, several times the CPU of the rest of the read. A body without a declared length
 * (chunked) is read chunk by chunk and refused as soon as it passes the bound.
 */
export async function readBoundedText(request: Request): Promise<{ text: string; bytes: number } | null> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > MAX_BODY_BYTES) return null
  if (Number.isInteger(declared) && declared >= 0) {
    const bytes = new Uint8Array(await request.arrayBuffer())
    // Only a Request made in-process can carry more than it declares: it is refused like any larger body.
    if (bytes.byteLength > MAX_BODY_BYTES) return null
    return { text: new TextDecoder().decode(bytes), bytes: bytes.byteLength }
  }
  if (request.body === null) return { text: '', bytes: 0 }
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {})
      return null
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { text: new TextDecoder().decode(bytes), bytes: size }
}

/**
 * Reads a JSON request and validates its headers and body, answering with a result instead of throwing,
 * so that a caller can act on a refusal (the authentication routes audit every one). Checks in the order
 * OpenAPIHono's validators do, with the same answers: body size (413), headers (400 naming them), media
 * type (415), JSON syntax (400 malformed_json), body schema (400 naming the fields).
 */
export async function readJsonRequest<H, B>(c: AppContext, schemas: { headers: z.ZodType<H>; body: z.ZodType<B> }): Promise<JsonRequest<H, B>> {
  const read = await readBoundedText(c.req.raw)
  if (read === null) return { ok: false, error: payloadTooLarge(), raw: null }
  const raw = read.text

  const headers = schemas.headers.safeParse(c.req.header())
  if (!headers.success) return { ok: false, error: validationError('header', headers.error), raw }

  const contentType = c.req.header('content-type')
  if (contentType ? !JSON_CONTENT_TYPE.test(contentType) : read.bytes > 0) return { ok: false, error: ApiError.from('unsupported_media_type'), raw }

  let value: unknown = {}
  if (contentType && JSON_MEDIA_TYPE.test(contentType.split(';')[0]!.trim())) {
    try {
      value = JSON.parse(raw)
    } catch {
      return { ok: false, error: ApiError.from('malformed_json'), raw }
    }
  }
  const body = schemas.body.safeParse(value)
  if (!body.success) return { ok: false, error: validationError('json', body.error), raw }
  return { ok: true, headers: headers.data, body: body.data, raw }
}
