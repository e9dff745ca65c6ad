import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { ApiError } from '../errors/codes.ts'
import { PROBLEM_CONTENT_TYPE, toProblem } from '../errors/problem.ts'
import { isDatabaseUnavailable } from '../db/sqlstate.ts'
import type { AppContext } from './app-env.ts'

/** Maps anything thrown to a typed ApiError; unknown errors become internal_error without detail. */
export function toApiError(error: unknown): { apiError: ApiError; unexpected: boolean } {
  if (error instanceof ApiError) return { apiError: error, unexpected: false }
  if (error instanceof HTTPException) {
    if (error.status === 400 && /json/i.test(error.message)) return { apiError: ApiError.from('malformed_json'), unexpected: false }
    if (error.status === 413) return { apiError: ApiError.from('payload_too_large'), unexpected: false }
    if (error.status === 415) return { apiError: ApiError.from('unsupported_media_type'), unexpected: false }
    if (error.status === 401) return { apiError: ApiError.from('unauthorized'), unexpected: false }
    if (error.status === 404) return { apiError: ApiError.from('not_found'), unexpected: false }
    if (error.status === 400) return { apiError: ApiError.from('validation_failed', error.message), unexpected: false }
  }
  if (isDatabaseUnavailable(error)) return { apiError: new ApiError('service_unavailable', undefined, undefined, { 'Retry-After': '5' }), unexpected: false }
  return { apiError: ApiError.from('internal_error'), unexpected: true }
}

/**
 * Writes an RFC 9457 problem+json response. Built by the context (`c.body`), so that the headers set on
 * it before (the request id among them) are the answer's too, without rebuilding it afterwards.
 */
export function problemResponse(c: AppContext, error: ApiError, extra: Record<string, unknown> = {}): Response {
  const body = {
    ...toProblem(error.code, { detail: error.detail, errors: error.errors, instance: c.req.path, requestId: c.get('requestId') }),
    ...extra,
  }
  const headers: Record<string, string> = { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Cache-Control': 'no-store', ...error.headers }
  return c.body(JSON.stringify(body), error.status as ContentfulStatusCode, headers)
}
