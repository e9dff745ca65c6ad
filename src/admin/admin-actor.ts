import type { RequestOrigin } from '../audit/event-draft.ts'

/** Who performs an administrative action, as recorded in its audit event. */
export interface AdminActor {
  /** The administrator's user id (the token's subject); null for the service itself (CLI, scheduler). */
  userId: string | null
  organisationId: string | null
  /** Channel `admin` for a person through the API, `system` for the service. */
  origin: RequestOrigin
}

/** The service acting on its own behalf (retention job, CLI). */
export const SYSTEM_ACTOR: AdminActor = {
  userId: null,
  organisationId: null,
  origin: { ip: null, userAgent: null, deviceId: null, channel: 'system' },
}

/**
 * Tenant-level administrative events (export, retention purge) belong to no account, so they go to one
 * fixed chain shard. Account-level ones (an unlock) go to the account's shard, next to its attempts.
 */
export const TENANT_ADMINISTRATION_SHARD = 0
