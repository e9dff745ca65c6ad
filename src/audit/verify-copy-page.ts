import { verifyChainSegment } from '../core/chain.ts'
import type { Digester } from '../core/digests.ts'
import { parseAuthLogCopy } from './auth-log-copy.ts'
import type { AUTH_LOG_COLUMNS } from './stored-event.ts'

/** One page of a chain to verify: its rows as COPY text, the position it continues, the anchors inside it. */
export interface CopyPageJob {
  page: Uint8Array
  /** The page's columns, in order (AUTH_LOG_COLUMNS). */
  columns: typeof AUTH_LOG_COLUMNS
  from: { seq: number; hash: Uint8Array }
  /** Anchored chain hashes by sequence number (signed checkpoints), only those inside the page. */
  anchors: ReadonlyMap<number, Uint8Array>
}

/** The new head of the chain after the page, or its first break. */
export type CopyPageResult = ReturnType<typeof verifyChainSegment>

/**
 * Verifies one page of COPY text: every digest and every link recomputed (verifyChainSegment). The same
 * function runs in a worker thread and, where there are none, in process.
 */
export function verifyCopyPage(job: CopyPageJob, digester: Digester): CopyPageResult {
  return verifyChainSegment(parseAuthLogCopy(job.page, job.columns), job.from, digester, job.anchors)
}
