import type { OutboxPayload } from '../core/auth-event.ts'

/** One outbox row as the relay reads it. */
export interface OutboxRow {
  eventId: string
  tenantId: string
  shard: number
  seq: number
  payload: OutboxPayload
}

/** A (tenant, shard) hash chain: the unit of ordering and of delivery state. */
export interface ChainKey {
  tenantId: string
  shard: number
}

/** A chain whose cursor row this relay holds locked for one sink, with the rows to deliver next. */
export interface ClaimedChain extends ChainKey {
  deliveredSeq: number
  /** Consecutive failed attempts at the chain's current head event. */
  attempts: number
  /** When the head first failed (null while healthy). */
  failingSince: Date | null
  rows: OutboxRow[]
}

/** The text kept in `last_error`: the error's name and message, bounded. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return text.length > 2000 ? `${text.slice(0, 1997)}...` : text
}
