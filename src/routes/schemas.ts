import { createRoute, z, type RouteConfig } from '@hono/zod-openapi'

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
    code: z.string().openapi({ description: 'Stable snake_case error code' }),
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

/**
 * Defines the routes of one area of the API: each gets the area's tag and, behind a token, the bearer
 * requirement, in the order the document lists an operation's fields.
 *
 * @example
 * const route = routesOf({ tag: 'audit', bearer: true })
 * export const verifyRoute = route('get', '/verify', 'Recompute the chains', { responses: { 200: ... } })
 */
export function routesOf(area: { tag: string; bearer: boolean; scheme?: string }) {
  const security = area.bearer ? { security: [{ [area.scheme ?? 'bearerAuth']: [] }] } : {}
  return <M extends RouteConfig['method'], P extends string, S extends Pick<RouteConfig, 'request' | 'responses'>>(method: M, path: P, summary: string, spec: S) =>
    createRoute({ method, path, tags: [area.tag], summary, ...security, ...spec })
}
