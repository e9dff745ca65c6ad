import type { RequestOrigin } from '../audit/record-events.ts'
import type { ActorKind } from '../core/administration.ts'

/** Who performs an administrative action, as recorded in its audit event. */
export interface AdminActor {
  /** The administrator's user id (the token's subject); null for the service itself (CLI, scheduler). */
  userId: string | null
  organisationId: string | null
  /** Channel `admin` for a person through the API, `system` for the service. */
  origin: RequestOrigin
  /** A platform operator, a tenant administrator, or the service; by default told from the channel. */
  kind?: ActorKind
}

/** Who made a change, as administration events record it. */
export function actorKindOf(actor: AdminActor): ActorKind {
  return actor.kind ?? (actor.origin.channel === 'system' ? 'service' : 'admin')
}

/** The service acting on its own behalf (retention job, CLI). */
export const SYSTEM_ACTOR: AdminActor = {
  userId: null,
  organisationId: null,
  origin: { ip: null, userAgent: null, deviceId: null, channel: 'system' },
  kind: 'service',
}
