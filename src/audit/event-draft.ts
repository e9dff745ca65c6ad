import type { JsonObject, RiskEvaluation, UnsequencedEvent } from '../core/auth-event.ts'
import type { Channel, EventType, Outcome } from '../core/event-types.ts'
import { wellFormed, wellFormedJson, wellFormedOrNull } from '../core/well-formed.ts'

/** Where an attempt came from: what the HTTP layer knows about the client, and nothing from the body. */
export interface RequestOrigin {
  ip: string | null
  userAgent: string | null
  deviceId: string | null
  channel: Channel
}

export interface DraftInput {
  id: string
  tenantId: string
  retentionDays: number
  now: Date
  eventType: EventType
  outcome: Outcome
  origin: RequestOrigin
  organisationId?: string | null
  userId?: string | null
  identifier?: string | null
  reason?: string | null
  risk?: RiskEvaluation
  metadata?: JsonObject
  tokenJti?: string | null
  actorId?: string | null
}

const DAY_MS = 86_400_000

/**
 * Builds an event before sequencing. `expires_at` is fixed here, at ingestion, from the tenant plan's
 * retention: a later plan change never moves an existing event's expiry. Every string from the client is
 * made well-formed Unicode here, the one door every event passes through.
 */
export function draftEvent(input: DraftInput): UnsequencedEvent {
  return {
    id: input.id,
    tenant_id: input.tenantId,
    organisation_id: input.organisationId ?? null,
    event_type: input.eventType,
    channel: input.origin.channel,
    user_id: input.userId ?? null,
    identifier: wellFormedOrNull(input.identifier ?? null),
    ip: input.origin.ip,
    user_agent: wellFormedOrNull(input.origin.userAgent),
    device_id: wellFormedOrNull(input.origin.deviceId),
    occurred_at: input.now.toISOString(),
    outcome: input.outcome,
    reason: wellFormedOrNull(input.reason ?? null),
    risk: input.risk ? { score: input.risk.score, signals: input.risk.signals.map(wellFormed) } : { score: 0, signals: [] },
    metadata: wellFormedJson(input.metadata ?? {}),
    token_jti: input.tokenJti ?? null,
    actor_id: input.actorId ?? null,
    expires_at: new Date(input.now.getTime() + input.retentionDays * DAY_MS).toISOString(),
  }
}
