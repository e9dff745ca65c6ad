/**
 * Every error the API can return: a stable snake_case code, its HTTP status and a client-facing title.
 * Clients branch on `code`; titles may be reworded.
 */
export const ERROR_CODES = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  malformed_request: { status: 400, title: 'The request is not valid HTTP' },
  unknown_tenant: { status: 400, title: 'The tenant does not exist' },
  invalid_credentials: { status: 401, title: 'Invalid identifier or password' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed' },
  origin_not_allowed: { status: 403, title: 'The request comes from an origin the tenant does not allow' },
  csrf_failed: { status: 403, title: 'The CSRF token is missing or wrong' },
  invalid_refresh_token: { status: 401, title: 'The refresh token is invalid, expired or revoked' },
  download_not_allowed: { status: 403, title: 'The tenant plan does not include downloads' },
  registration_closed: { status: 403, title: 'The tenant does not accept this registration' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'The resource exists already' },
  verification_running: { status: 409, title: 'A verification of these chains is already running' },
  weak_password: { status: 422, title: 'The password does not meet the policy' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json' },
  headers_too_large: { status: 431, title: 'The request headers are too large' },
  account_locked: { status: 423, title: 'The account is temporarily locked' },
  ip_throttled: { status: 429, title: 'Too many failed attempts from this address' },
  service_unavailable: { status: 503, title: 'The service cannot record this request right now' },
  internal_error: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>

export type ErrorCode = keyof typeof ERROR_CODES

/** One invalid field, named by JSON pointer (RFC 6901) into the request body or a parameter name. */
export interface FieldError {
  field: string
  detail: string
}

/**
 * The one typed error of the service. `detail` and `errors` are shown to the client; `cause` never is.
 *
 * @example
 * throw ApiError.from('invalid_credentials')
 */
export class ApiError extends Error {
  readonly status: number
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(ERROR_CODES[code].title, options)
    this.status = ERROR_CODES[code].status
  }

  static from(code: ErrorCode, detail?: string, errors?: FieldError[]): ApiError {
    return new ApiError(code, detail, errors)
  }
}
