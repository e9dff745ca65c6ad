import { OpenAPIHono } from '@hono/zod-openapi'
import type { AppEnv } from '../http/app-env.ts'
import { validationHook } from '../http/validation-hook.ts'

/**
 * The router of one area of the API, mounted by createApp with `app.route()`: every request that fails
 * its route's schema becomes a 400 validation_failed problem naming the fields.
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook as never })
}
