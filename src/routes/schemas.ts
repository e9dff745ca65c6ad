import { createRoute, z, type RouteConfig } from '@hono/zod-openapi'
import { ERROR_CODES, type ErrorCode } from '../errors/codes.ts'

/**
 * Text a request may carry into SQL. PostgreSQL's text and jsonb cannot hold NUL, so a value with one is
 * refused here, at the boundary, naming its field (lone surrogates are made well-formed when recorded).
 */
export function storable<S extends z.ZodString>(schema: S): S {
  return schema.refine((s) => !s.includes('\u0000'), { message: 'must not contain NUL characters' }) as S
}

/** RFC 9457 problem details as returned by every error response. */
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://authtrail.dev/problems/validation-failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).openapi({ description: 'Stable snake_case error code: branch on it (titles may be reworded)' }),
    errors: z.array(z.object({ field: z.string(), detail: z.string() })).optional(),
    request_id: z.string().optional(),
    event_id: z.string().optional().openapi({ description: 'The audit event recorded for this attempt' }),
  })
  .openapi('Problem')

/** A response entry for a problem+json error. */
export function problem(description: string) {
  return { description, content: { 'application/problem+json': { schema: ProblemSchema } } }
}

export const IdempotencyKeyHeader = z.object({
  'idempotency-key': z
    .string()
    .min(8)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional()
    .openapi({ description: 'Makes a retried request safe: the same key replays the first answer and records nothing new.' }),
})

/** Response headers, declared once for every operation that can send them. */
export const RETRY_AFTER_HEADER = { 'Retry-After': { description: 'Seconds to wait before trying again (RFC 9110)', schema: { type: 'integer', minimum: 0 } } } as const
export const WWW_AUTHENTICATE_HEADER = { 'WWW-Authenticate': { description: 'The bearer challenge (RFC 6750), e.g. `Bearer error="invalid_token"`', schema: { type: 'string' } } } as const
export const SET_COOKIE_HEADER = {
  'Set-Cookie': { description: 'Web only: the session cookies (`__Host-` prefixed behind HTTPS, HttpOnly, SameSite=Strict), set or cleared', schema: { type: 'string' } },
} as const

type Responses = RouteConfig['responses']

/**
 * Completes an operation's responses with what the service's middleware can answer on every route of its
 * kind, so that the document lists every status a client can meet: a body is limited (413), must be JSON
 * (415) and validated (400); parameters are validated (400); a token is checked (401 with its challenge,
 * 403 for a role or an origin); headers are limited (431); every request is bounded in time (503). The
 * statuses that can be retried declare Retry-After.
 */
function completeResponses(responses: Responses, request: RouteConfig['request'], bearer: boolean): Responses {
  const standard: Responses = {
    ...(request?.body || request?.query || request?.params || request?.headers ? { 400: problem('Invalid request: the problem names the fields') } : {}),
    ...(bearer ? { 401: problem('Missing, invalid, expired or revoked token'), 403: problem('The role does not allow it, or the request comes from an origin the tenant does not allow') } : {}),
    ...(request?.body ? { 413: problem('Body too large'), 415: problem('The body is not application/json') } : {}),
    431: problem('Request headers too large (over 16 KiB)'),
    500: problem('Unexpected error (logged with the request id; no detail is given)'),
    503: problem('The service cannot answer now (database unavailable or too slow); nothing was written'),
  }
  const complete: Responses = { ...responses }
  for (const [status, response] of Object.entries(standard)) complete[status] ??= response
  for (const [status, response] of Object.entries(complete)) {
    const extra = status === '423' || status === '429' || status === '503' ? RETRY_AFTER_HEADER : status === '401' && bearer ? WWW_AUTHENTICATE_HEADER : null
    if (extra && 'description' in response) complete[status] = { ...response, headers: { ...extra, ...((response as { headers?: object }).headers ?? {}) } }
  }
  return Object.fromEntries(Object.entries(complete).sort(([a], [b]) => a.localeCompare(b)))
}

/**
 * Defines the routes of one area of the API: each gets its operationId (the name generated clients give
 * it), the area's tag, its security requirement (`security: []` on public routes, so that generators and
 * linters know they need no token) and every status the service can answer, in the order the document
 * lists an operation's fields.
 *
 * @example
 * const route = routesOf({ tag: 'audit', bearer: true })
 * export const verifyRoute = route('get', '/verify', 'Recompute the chains', { operationId: 'verifyChains', responses: { 200: ... } })
 */
export function routesOf(area: { tag: string; bearer: boolean; scheme?: string }) {
  const security = area.bearer ? [{ [area.scheme ?? 'bearerAuth']: [] }] : []
  return <M extends RouteConfig['method'], P extends string, S extends Pick<RouteConfig, 'request' | 'responses'> & { operationId: string }>(method: M, path: P, summary: string, spec: S) => {
    const { operationId, ...rest } = spec
    return createRoute({ operationId, method, path, tags: [area.tag], summary, security, ...rest, responses: completeResponses(spec.responses, spec.request, area.bearer) as S['responses'] })
  }
}
