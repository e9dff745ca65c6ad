import { bodyLimit } from 'hono/body-limit'
import { ApiError } from '../errors/codes.ts'

/** Bodies of API requests are small; anything larger is refused unread. */
export const MAX_BODY_BYTES = 16 * 1024

/** The 413 answer to a body over MAX_BODY_BYTES. */
export function payloadTooLarge(): ApiError {
  return ApiError.from('payload_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`)
}

export function limitBody() {
  return bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw payloadTooLarge()
    },
  })
}
