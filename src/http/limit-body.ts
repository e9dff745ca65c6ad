import { bodyLimit } from 'hono/body-limit'
import { ApiError } from '../errors/codes.ts'

/** Bodies of API requests are small; anything larger is refused unread. */
export const MAX_BODY_BYTES = 16 * 1024

export function limitBody() {
  return bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw ApiError.from('payload_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`)
    },
  })
}
