import { z } from '@hono/zod-openapi'
import { ANCHORS } from '../../core/checkpoint.ts'
import { problem, routesOf } from '../schemas.ts'

const route = routesOf({ tag: 'audit', bearer: true })
const publicRoute = routesOf({ tag: 'audit', bearer: false })

const BreakSchema = z.object({
  shard: z.number().int(),
  seq: z.number().int().openapi({ description: 'The first sequence number that does not verify, or that disagrees with an anchored checkpoint' }),
  eventId: z.string().nullable(),
  reason: z.enum([
    'sequence_gap',
    'digest_mismatch',
    'prev_hash_mismatch',
    'chain_hash_mismatch',
    'head_mismatch',
    'checkpoint_mismatch',
    'anchor_mismatch',
    'anchor_beyond_head',
    'checkpoint_signature_invalid',
    'checkpoint_missing',
  ]),
  anchor: z.enum(ANCHORS).optional().openapi({ description: 'The copy of a signed checkpoint this break was found against' }),
  last_agreeing_seq: z
    .number()
    .int()
    .optional()
    .openapi({ description: 'The newest anchored position that still agreed: what changed lies after it, at or before seq' }),
})

export const VerificationSchema = z
  .object({
    ok: z.boolean(),
    verified_events: z.number().int(),
    first_break: BreakSchema.nullable(),
    checkpoints: z.object({
      signatures_checked: z.boolean(),
      postgresql: z.number().int(),
      docstore: z.number().int().nullable().openapi({ description: 'Signed checkpoints read from the document store; null when not asked for' }),
      siem: z.number().int().nullable(),
      rejected: z.number().int().openapi({ description: "Anchors' checkpoints refused for a bad signature or an unknown key" }),
      compared: z.number().int(),
    }),
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
        anchored_seq: z.number().int().nullable().openapi({ description: 'The newest position a signed checkpoint anchors and the chain agrees with' }),
        break: BreakSchema.optional(),
      }),
    ),
  })
  .openapi('ChainVerification')

export const verifyRoute = route('get', '/verify', "Recompute the caller's tenant hash chains against the signed checkpoints and name the first broken sequence number. One verification runs at a time per tenant: a call made while one runs in the same instance joins it and gets its result; a call reaching another instance meanwhile is answered 409 verification_running, naming the running verification, with Retry-After", {
  operationId: 'verifyChains',
  request: {
    query: z.object({
      anchors: z
        .enum(['docstore'])
        .optional()
        .openapi({ description: "Also compare with the signed checkpoints the document store holds (the service's own, when it has one)" }),
    }),
  },
  responses: {
    200: { description: 'Verification result', content: { 'application/json': { schema: VerificationSchema } } },
    400: problem('Invalid query, or no document store is configured'),
    401: problem('Missing or invalid token'),
    403: problem('Requires the admin or auditor role'),
    409: problem('A verification of the tenant\'s chains is running in another instance (code verification_running); retry after Retry-After'),
  },
})

export const KeySetSchema = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal('OKP'),
        crv: z.literal('Ed25519'),
        x: z.string().openapi({ description: 'The public key, base64url' }),
        kid: z.string().openapi({ description: 'Key id: the RFC 7638 thumbprint, as checkpoints name it' }),
        use: z.literal('sig'),
        alg: z.literal('EdDSA'),
        status: z.enum(['active', 'retired']).openapi({ description: 'active signs new checkpoints; retired still verifies what it signed' }),
      }),
    ),
  })
  .openapi('CheckpointKeySet')

export const keysRoute = publicRoute('get', '/keys', 'The public keys that verify signed chain checkpoints (JWKS, RFC 7517/8037)', {
  operationId: 'getCheckpointKeys',
  responses: {
    200: { description: 'The checkpoint keys', content: { 'application/json': { schema: KeySetSchema } } },
  },
})
