import type { ZodError } from 'zod'
import { ApiError, type FieldError } from '../errors/codes.ts'

/** Turns zod issues into field errors: the field is the dotted path, or the parameter's name. */
export function fieldErrors(error: ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : '(body)',
    detail: issue.message,
  }))
}

/**
 * The OpenAPIHono default hook: every request that fails its schema becomes a 400 validation_failed
 * problem naming the fields.
 */
export function validationHook(result: { success: boolean; error?: unknown; target?: string }): void {
  if (result.success) return
  const errors = fieldErrors(result.error as ZodError)
  throw ApiError.from('validation_failed', `invalid ${result.target ?? 'request'}: ${errors.map((e) => e.field).join(', ')}`, errors)
}
