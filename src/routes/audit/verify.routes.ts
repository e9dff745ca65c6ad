import { z } from '@hono/zod-openapi'
import { problem, routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'audit', bearer: true })

const BreakSchema = z.object({
  shard: z.number().int(),
  seq: z.number().int().openapi({ description: 'The first sequence number that does not verify' }),
  eventId: z.string().nullable(),
  reason: z.enum(['sequence_gap', 'digest_mismatch', 'prev_hash_mismatch', 'chain_hash_mismatch', 'head_mismatch', 'checkpoint_mismatch']),
})

export const VerificationSchema = z
  .object({
    ok: z.boolean(),
    verified_events: z.number().int(),
    first_break: BreakSchema.nullable(),
    shards: z.array(
      z.object({
        shard: z.number().int(),
        verified: z.number().int(),
        head_seq: z.number().int(),
        ok: z.boolean(),
        checkpoint: z
          .object({ seq: z.number().int(), signed: z.boolean() })
          .optional()
          .openapi({ description: 'Retention purged the chain up to seq; verification started from this checkpoint' }),
        break: BreakSchema.optional(),
      }),
    ),
  })
  .openapi('ChainVerification')

export const verifyRoute = route('get', '/verify', "Recompute the caller's tenant hash chains and name the first broken sequence number", {
  responses: {
    200: { description: 'Verification result', content: { 'application/json': { schema: VerificationSchema } } },
    401: problem('Missing or invalid token'),
    403: problem('Requires the admin or auditor role'),
  },
})
