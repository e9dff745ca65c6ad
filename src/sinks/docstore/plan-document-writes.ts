import type { OutboxPayload } from '../../core/auth-event.ts'
import type { RejectedEvent } from './document-store.ts'
import {
  EventMappingError,
  snapshotSupersedes,
  toEventDocument,
  toLockoutDocument,
  type EventDocument,
  type LockoutDocument,
} from './event-document.ts'

/** What one delivered batch asks a store to write, already mapped and deduplicated. */
export interface DocumentWrites {
  /** One document per event id (the last occurrence, should a batch repeat an event). */
  events: EventDocument[]
  /** Per lockout document, only the batch's newest snapshot, with the event that carried it. */
  lockouts: { document: LockoutDocument; eventId: string }[]
  /** Events that cannot be mapped at all; the store writes everything else and then reports these. */
  rejected: RejectedEvent[]
}

/**
 * Maps a batch to the documents to write. Deduplicating here means no two writes of one batch race for the
 * same `_id`, and keeping only the newest lockout snapshot saves writes the sequence guard would discard.
 * Both stores share this, so they agree on what a batch means.
 */
export function planDocumentWrites(batch: readonly OutboxPayload[]): DocumentWrites {
  const events = new Map<string, EventDocument>()
  const lockouts = new Map<string, { document: LockoutDocument; eventId: string }>()
  const rejected: RejectedEvent[] = []
  const attempt = <T>(map: () => T): T | null => {
    try {
      return map()
    } catch (error) {
      if (!(error instanceof EventMappingError)) throw error
      rejected.push({ eventId: error.eventId, reason: error.message })
      return null
    }
  }
  for (const { event, lockout } of batch) {
    const doc = attempt(() => toEventDocument(event))
    if (doc !== null) events.set(doc._id, doc)
    if (lockout === null) continue
    const snapshot = attempt(() => toLockoutDocument(lockout, event.id))
    // Batch order is chain order, so on a shard change the later snapshot is the newer one.
    if (snapshot !== null && snapshotSupersedes(lockouts.get(snapshot._id)?.document ?? null, snapshot)) {
      lockouts.set(snapshot._id, { document: snapshot, eventId: event.id })
    }
  }
  return { events: [...events.values()], lockouts: [...lockouts.values()], rejected }
}
