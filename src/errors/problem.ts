import { ERROR_CODES, type ErrorCode, type FieldError } from './codes.ts'

/** An RFC 9457 problem details body, with authtrail's `code`, `errors` and `request_id` extensions. */
export interface ProblemDetails {
  type: string
  title: string
  status: number
  detail?: string
  instance?: string
  code: ErrorCode
  errors?: FieldError[]
  request_id?: string
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export function problemTypeUri(code: ErrorCode): string {
  return `https://authtrail.dev/problems/${code.replaceAll('_', '-')}`
}

/** Builds a problem body for a code; never includes an internal cause. */
export function toProblem(
  code: ErrorCode,
  extras: { detail?: string; errors?: FieldError[]; instance?: string; requestId?: string } = {},
): ProblemDetails {
  const { status, title } = ERROR_CODES[code]
  return {
    type: problemTypeUri(code),
    title,
    status,
    code,
    ...(extras.detail !== undefined && { detail: extras.detail }),
    ...(extras.errors !== undefined && { errors: extras.errors }),
    ...(extras.instance !== undefined && { instance: extras.instance }),
    ...(extras.requestId !== undefined && { request_id: extras.requestId }),
  }
}
