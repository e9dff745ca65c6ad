import type { z } from 'zod'
import { EVENT_CATALOG, type EventDefinition } from './event-catalog.ts'

/** The closed set of audit event types, in the order of the catalog (see event-catalog.ts). */
export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as [keyof typeof EVENT_CATALOG, ...(keyof typeof EVENT_CATALOG)[]]
export type EventType = keyof typeof EVENT_CATALOG

/** Where an event came from: the two login surfaces, an administrator, or the service itself. */
export const CHANNELS = ['web', 'mobile', 'admin', 'system'] as const
export type Channel = (typeof CHANNELS)[number]

export const OUTCOMES = ['success', 'failure'] as const
export type Outcome = (typeof OUTCOMES)[number]

/** The outcomes, reasons and metadata an event of type T may carry, as its catalog entry defines them. */
export type EventOutcome<T extends EventType> = z.output<(typeof EVENT_CATALOG)[T]['outcome']>
export type EventReason<T extends EventType> = z.output<(typeof EVENT_CATALOG)[T]['reason']>
export type EventMetadata<T extends EventType> = z.output<(typeof EVENT_CATALOG)[T]['metadata']>

/**
 * A table with one entry per event type, computed from its definition: the way every per-type map is
 * built, so that none can miss a type.
 *
 * @example
 * const severity = mapEventTypes((definition) => definition.cef.severity)
 */
export function mapEventTypes<R>(entry: (definition: EventDefinition, type: EventType) => R): Record<EventType, R> {
  return Object.fromEntries(EVENT_TYPES.map((type) => [type, entry(EVENT_CATALOG[type], type)])) as Record<EventType, R>
}

/** Whether an event type records an authentication attempt, an account-state change, a registration or an admin action. */
export const EVENT_CATEGORY: Record<EventType, EventDefinition['category']> = mapEventTypes((definition) => definition.category)

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_CATALOG, value)
}
