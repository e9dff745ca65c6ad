import type { ZodError } from 'zod'
import { ApiError, type FieldError } from '../errors/codes.ts'

/** Turns zod issues into field errors: the field is the dotted path, or the parameter's name; an unknown field is named too. */
export function fieldErrors(error: ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String)
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: [...at, key].join('.'), detail: 'unknown field' }))
    return [{ field: at.length ? at.join('.') : '(body)', detail: issue.message }]
  })
}

/** The 400 validation_failed problem for a part of the request (`json`, `query`, `header`…) that failed its schema. */
export function validationError(target: string | undefined, error: ZodError): ApiError {
  const errors = fieldErrors(error)
  return ApiError.from('validation_failed', `invalid ${target ?? 'request'}: ${errors.map((e) => e.field).join(', ')}`, errors)
}

/**
 * The OpenAPIHono default hook: every request that fails its schema becomes a 400 validation_failed
 * problem naming the fields.
 */
export function validationHook(result: { success: boolean; error?: unknown; target?: string }): void {
  if (result.success) return
  throw validationError(result.target, result.error as ZodError)
}
