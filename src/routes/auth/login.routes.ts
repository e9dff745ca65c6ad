import { z } from '@hono/zod-openapi'
import { normalizeIdentifier } from '../../core/identifier.ts'
import { DEMO } from '../../db/seed-demo.ts'
import { IdempotencyKeyHeader, problem, routesOf, SET_COOKIE_HEADER, storable } from '../schemas.ts'

const route = routesOf({ tag: 'authentication', bearer: false })

/** An identifier is stored normalised (NFKC, trimmed, lower case), so its length is checked as stored. */
const MAX_IDENTIFIER = 254
const identifier = storable(z.string().min(1).max(MAX_IDENTIFIER)).refine(
  (raw) => {
    const normalised = normalizeIdentifier(raw)
    return normalised.length >= 1 && normalised.length <= MAX_IDENTIFIER
  },
  { message: `must be 1 to ${MAX_IDENTIFIER} characters once normalised (NFKC, trimmed)` },
)

const credentials = {
  // The examples are the demo tenant's published development credentials: /docs can send them as they are.
  tenant: storable(z.string().min(1).max(63)).openapi({ example: DEMO.tenant, description: 'The tenant slug' }),
  identifier: identifier.openapi({ example: DEMO.user.identifier, description: `At most ${MAX_IDENTIFIER} characters, also once normalised (NFKC, trimmed, lower case)` }),
  password: z.string().min(1).max(1024).openapi({ format: 'password', example: DEMO.user.password }),
}

export const WebLoginBody = z.object(credentials).strict().openapi('WebLoginRequest')
export const MobileLoginBody = z
  .object({ ...credentials, device_id: storable(z.string().min(1).max(128)).openapi({ example: 'ios-6F2C9A' }) })
  .strict()
  .openapi('MobileLoginRequest')

export const SessionSchema = z
  .object({
    token_type: z.literal('Bearer'),
    access_token: z.string(),
    expires_in: z.number().int().openapi({ description: 'Seconds until the access token expires' }),
    refresh_token: z.string().openapi({ description: 'Opaque; spent by its first use (POST /v1/auth/refresh returns the next one)' }),
    refresh_expires_in: z.number().int().openapi({ description: 'Seconds until the session ends, refreshes notwithstanding' }),
    session_id: z.string().uuid(),
    csrf_token: z.string().optional().openapi({ description: 'Web only: send it as X-CSRF-Token when the session cookie is the credential' }),
    event_id: z.string().uuid().openapi({ description: 'The audit event of this login or refresh' }),
  })
  .openapi('Session')

const failures = {
  400: problem('Invalid request (the problem names the fields); the attempt is audited'),
  401: problem('Wrong identifier or password (identical for unknown identifiers)'),
  403: problem('The request comes from an origin the tenant does not allow; the attempt is audited'),
  413: problem('Body too large'),
  431: problem('Request headers too large (over 16 KiB); the attempt is audited'),
  423: problem('Account temporarily locked; see Retry-After'),
  429: problem('Too many failed attempts from this address; see Retry-After'),
  503: problem('The attempt could not be recorded; nothing was written'),
}

export const webLoginRoute = route('post', '/auth/login', 'Log in from the web (the session is also set as HttpOnly SameSite=Strict cookies)', {
  operationId: 'logIn',
  request: { headers: IdempotencyKeyHeader, body: { required: true, content: { 'application/json': { schema: WebLoginBody } } } },
  responses: { 200: { description: 'Logged in', headers: SET_COOKIE_HEADER, content: { 'application/json': { schema: SessionSchema } } }, ...failures },
})

export const mobileLoginRoute = route('post', '/mobile/auth/login', 'Log in from a mobile app (token in the body, device identifier recorded)', {
  operationId: 'logInMobile',
  request: { headers: IdempotencyKeyHeader, body: { required: true, content: { 'application/json': { schema: MobileLoginBody } } } },
  responses: { 200: { description: 'Logged in', content: { 'application/json': { schema: SessionSchema } } }, ...failures },
})

export const RegisterBody = z
  .object({
    tenant: credentials.tenant,
    invitation: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({ description: "An invitation's secret: the account gets the invitation's organisation and role. Without one, only a tenant whose registration mode is open accepts the registration (as a user of its first organisation)." }),
    identifier: credentials.identifier,
    password: z.string().min(1).max(1024).openapi({ format: 'password', description: '12 to 128 characters' }),
  })
  .strict()
  .openapi('RegisterRequest')

export const registerRoute = route('post', '/auth/register', 'Register an account (the answer does not reveal whether the identifier was taken)', {
  operationId: 'register',
  request: { headers: IdempotencyKeyHeader, body: { required: true, content: { 'application/json': { schema: RegisterBody } } } },
  responses: {
    202: {
      description: 'Registration received',
      content: { 'application/json': { schema: z.object({ status: z.literal('accepted'), event_id: z.string().uuid() }).openapi('RegistrationAccepted') } },
    },
    400: problem('Invalid request, or an invitation that is unknown, used or expired; the attempt is audited'),
    403: problem('The tenant accepts no registration of this kind (registration_closed); the attempt is audited'),
    413: problem('Body too large'),
    431: problem('Request headers too large (over 16 KiB); the attempt is audited'),
    422: problem('Password does not meet the policy'),
    503: problem('The registration could not be recorded'),
  },
})
