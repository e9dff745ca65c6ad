import type { OutboxPayload } from '../../core/auth-event.ts'
import { PermanentSinkError, type EventSink } from '../event-sink.ts'
import { DocumentRejectedError, type DocumentStore } from './document-store.ts'

/**
 * The outbox relay's sink for the document store. Every write is an upsert by event id, so the relay's
 * at-least-once redelivery is harmless. An event the store can never accept becomes a
 * {@link PermanentSinkError} naming it, for the relay to dead-letter; the rest of its batch is already
 * written, and redelivering them is a no-op. Everything else propagates as a transient failure.
 * The store's `ensureSchema()` is the caller's to run at start-up.
 *
 * @example
 * const sink = createDocumentStoreSink(createMongoDocumentStore(client, { dbName: 'authtrail' }))
 * await sink.deliver(batch)
 */
export function createDocumentStoreSink(store: DocumentStore): EventSink {
  return {
    name: 'docstore',
    async deliver(batch: readonly OutboxPayload[]) {
      try {
        await store.upsertEvents(batch)
      } catch (error) {
        if (!(error instanceof DocumentRejectedError)) throw error
        // One poison event per throw is what the relay's contract can carry; the next attempt names the next.
        const first = error.rejected[0]!
        throw new PermanentSinkError(`docstore rejected event ${first.eventId}: ${first.reason}`, first.eventId)
      }
    },
    close: () => store.close(),
  }
}
