import { z } from '@hono/zod-openapi'
import { EXPORT_FORMATS } from '../../admin/export-formats.ts'
import { problem, routesOf, storable } from '../schemas.ts'

const route = routesOf({ tag: 'administration', bearer: true })

export const unlockRoute = route('post', '/lockouts/{identifier}/unlock', "Unlock an account: clear its lockout state and record lockout_reset with the administrator as actor", {
  operationId: 'unlockAccount',
  request: {
    params: z.object({
      identifier: storable(z.string().min(1).max(254)).openapi({ param: { name: 'identifier', in: 'path' }, example: 'alice@example.com' }),
    }),
  },
  responses: {
    200: {
      description: '`unlocked` (with the audit event) or `not_locked` (nothing to clear, nothing written)',
      content: {
        'application/json': {
          schema: z
            .object({
              status: z.enum(['unlocked', 'not_locked']),
              identifier: z.string(),
              event_id: z.string().nullable(),
              previous: z
                .object({ failed_login_attempts: z.number().int(), account_locked_until: z.string().nullable(), lockout_count: z.number().int() })
                .nullable(),
            })
            .openapi('UnlockResult'),
        },
      },
    },
    401: problem('Missing or invalid token'),
    403: problem('Requires the admin role'),
    404: problem('No lockout state for this identifier (never attempted, or not in your scope)'),
  },
})

export const exportRoute = route('get', '/export', 'Stream the audit trail of a time range as NDJSON, CSV or CEF (requires a plan with downloads)', {
  operationId: 'exportEvents',
  request: {
    query: z.object({
      format: z.enum(EXPORT_FORMATS).default('ndjson'),
      from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Inclusive; default: the oldest retained event' }),
      to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Exclusive; default: now' }),
    }),
  },
  responses: {
    200: {
      description: 'The events in time order, streamed; X-Audit-Event-Id names the audit_exported event',
      headers: {
        'X-Audit-Event-Id': { description: 'The audit_exported event that records this export', schema: { type: 'string', format: 'uuid' } },
        'Content-Disposition': { description: 'attachment, with a file name naming the tenant and the time', schema: { type: 'string' } },
      },
      content: {
        'application/x-ndjson': { schema: z.string() },
        'text/csv': { schema: z.string() },
        'text/plain': { schema: z.string().openapi({ description: 'One CEF line per event' }) },
      },
    },
    400: problem('Invalid parameters'),
    401: problem('Missing or invalid token'),
    403: problem('Requires the admin or auditor role, or the plan does not include downloads (download_not_allowed)'),
  },
})

export const retentionPurgeRoute = route('post', '/retention/purge', "Purge the caller's tenant's expired events now, checkpointing each chain so it still verifies", {
  operationId: 'purgeRetention',
  responses: {
    200: {
      description: 'What was purged; event_id is the retention_purged event (null when nothing had expired)',
      content: {
        'application/json': {
          schema: z
            .object({
              purged_events: z.number().int(),
              removed_lockouts: z.number().int().openapi({ description: 'Idle lockout rows removed: not locked, failure window closed, escalation forgotten' }),
              before: z.string(),
              shards: z.array(z.object({ shard: z.number().int(), boundary_seq: z.number().int(), deleted: z.number().int() })),
              event_id: z.string().nullable(),
            })
            .openapi('RetentionPurgeResult'),
        },
      },
    },
    401: problem('Missing or invalid token'),
    403: problem('Requires the admin role'),
  },
})
