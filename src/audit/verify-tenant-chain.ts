import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { checkpointSignatureProblem, toBase64Url, type Anchor, type CheckpointVerifier, type SignedCheckpoint } from '../core/checkpoint.ts'
import { constantTimeEqual, type Digester } from '../core/digests.ts'
import { genesisHash, type ChainBreak } from '../core/chain.ts'
import type { Sql, Tx } from '../db/client.ts'
import { copyPageExtent } from './auth-log-copy.ts'
import { checkpointProblem, readChainCheckpoints, readCheckpointAttestations } from './chain-checkpoints.ts'
import { AUTH_LOG_COLUMNS } from './stored-event.ts'
import { defaultVerificationThreads, sharedCopyPageVerifier } from './verify-copy-page-threads.ts'

/** Where the chain disagrees with itself, with its head, or with an anchor. */
export type VerificationBreak =
  | ChainBreak
  | { shard: number; seq: number; eventId: null; reason: 'head_mismatch' }
  | { shard: number; seq: number; eventId: string; reason: 'checkpoint_mismatch' }
  | {
      shard: number
      seq: number
      eventId: string | null
      /**
       * `checkpoint_signature_invalid`: a checkpoint in PostgreSQL whose signature does not verify under a
       * published key; `checkpoint_missing`: an anchor holds a signed checkpoint that PostgreSQL lacks;
       * `anchor_beyond_head`: an anchored checkpoint lies past the chain's head (the end was cut off).
       */
      reason: 'checkpoint_signature_invalid' | 'checkpoint_missing' | 'anchor_beyond_head'
    }

/** A break, and for one found by an anchor, which anchor and the newest anchored position that still agreed. */
export type AnchoredBreak = VerificationBreak & { anchor?: Anchor; last_agreeing_seq?: number }

export interface ShardVerification {
  shard: number
  verified: number
  head_seq: number
  ok: boolean
  /** Present when retention purged the chain's beginning: verification started after this event. */
  checkpoint?: { seq: number; signed: boolean }
  /** The newest position whose hash a signed checkpoint anchors and the chain agreed with; null when none. */
  anchored_seq: number | null
  break?: AnchoredBreak
}

export interface CheckpointSummary {
  /** Whether signatures were checked against published keys (none are configured in tests without a key). */
  signatures_checked: boolean
  /** Signed checkpoints read from PostgreSQL, the document store and the SIEM file (null: that anchor was not given). */
  postgresql: number
  docstore: number | null
  siem: number | null
  /** Anchor checkpoints refused for a bad signature or an unknown key (a forged copy proves nothing). */
  rejected: number
  /** Distinct anchored positions the chain was compared with. */
  compared: number
}

export interface TenantVerification {
  ok: boolean
  verified_events: number
  shards: ShardVerification[]
  checkpoints: CheckpointSummary
  /** The first broken sequence number (lowest shard first), if any. */
  first_break: AnchoredBreak | null
}

export interface VerifyOptions {
  /**
   * The published checkpoint keys. With keys, every checkpoint in PostgreSQL must carry a valid signature,
   * anchors' checkpoints are used only when theirs verifies, and retention checkpoints must be signed;
   * without, checkpoints are compared unchecked and retention ones trusted as far as the chain attests them.
   */
  verifier?: CheckpointVerifier | null
  /** Signed checkpoints held outside PostgreSQL, to compare the chain and the checkpoint table with. */
  anchors?: { docstore?: readonly SignedCheckpoint[]; siem?: readonly SignedCheckpoint[] }
  /** Rows read per query (keyset pagination); tests make it small to cross page boundaries cheaply. */
  pageSize?: number
  /**
   * Worker threads that parse and hash the pages (chains are independent, so several are verified at
   * once); 0 verifies in process. Default: the cores the runtime reports, for a tenant whose chain heads
   * announce at least 50,000 events (fewer are verified faster in process than threads start). Without
   * worker threads (workerd) verification runs in process whatever this says, with the same results.
   */
  threads?: number
  /** Called after each page with the events verified so far and the number the chain heads announce. */
  onProgress?: (progress: VerificationProgress) => void
  /**
   * Awaited once a chain's pages are read, before the events appended meanwhile and its head are read in
   * one snapshot: where a test appends to exercise that read without racing the page loop.
   */
  onPagesRead?: (shard: number) => void | Promise<void>
  /**
   * Awaited in that snapshot, between reading the last events and reading the head: where a test commits
   * an append the snapshot must not see.
   */
  onTailRead?: (shard: number) => void | Promise<void>
}

export interface VerificationProgress {
  verified: number
  /** Events between each chain's start (genesis or retention checkpoint) and its head. */
  total: number
  /** Worker threads in use; 0 in process. */
  threads: number
}

const DEFAULT_PAGE_SIZE = 5_000
/** Events from which verification starts worker threads by default (starting them takes 0.2–2 s). */
const THREADS_FROM_EVENTS = 50_000
/** Chains read at once in process: one hashed while the next page of another is read. */
const CONCURRENT_CHAINS = 2

interface HeadRow {
  shard: number
  seq: number
  head_hash: Uint8Array
}

interface CopyPage {
  page: Uint8Array
  rows: number
  lastSeq: number
}

/**
 * One page of a chain as COPY text (see auth-log-copy.ts): the thread reading it only moves bytes. COPY
 * takes no bind parameters, so the values travel as bound parameters of set_config, local to a read-only
 * transaction, and the query reads them back with current_setting.
 */
function readPage(sql: Sql, tenantId: string, shard: number, afterSeq: number, pageSize: number): Promise<CopyPage> {
  return sql.begin('read only', (tx) => readPageIn(tx, tenantId, shard, afterSeq, pageSize))
}

/** As readPage, inside the caller's transaction (and so in its snapshot). */
async function readPageIn(tx: Tx, tenantId: string, shard: number, afterSeq: number, pageSize: number): Promise<CopyPage> {
  await tx`
    SELECT set_config('authtrail.verify_tenant', ${tenantId}, true), set_config('authtrail.verify_shard', ${String(shard)}, true),
      set_config('authtrail.verify_after', ${String(afterSeq)}, true), set_config('authtrail.verify_limit', ${String(pageSize)}, true)`
  const stream = await tx`
    COPY (
      SELECT ${tx(AUTH_LOG_COLUMNS)} FROM auth_logs
      WHERE tenant_id = current_setting('authtrail.verify_tenant')::uuid AND shard = current_setting('authtrail.verify_shard')::smallint
        AND seq > current_setting('authtrail.verify_after')::bigint
      ORDER BY seq LIMIT current_setting('authtrail.verify_limit')::bigint
    ) TO STDOUT`.readable()
  const chunks: Uint8Array[] = []
  let size = 0
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Uint8Array) => {
      chunks.push(chunk)
      size += chunk.length
    })
    stream.once('end', () => {
      // The client pauses its socket when a COPY outgrows the stream's buffer and resumes it only when
      // the stream asks for more; a COPY that arrived whole has ended by then and never asks, and the
      // connection would hang. Asking once more at the end resumes it (a no-op when it is not paused).
      ;(stream as unknown as { _read(size: number): void })._read(0)
      resolve()
    })
    stream.once('error', reject)
  })
  // A buffer of its own (never a slice of a pooled one), so that it can be handed to a thread.
  const page = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    page.set(chunk, offset)
    offset += chunk.length
  }
  return { page, ...copyPageExtent(page, AUTH_LOG_COLUMNS) }
}

/** The anchors a page can meet: its events have sequence numbers after `afterSeq`, up to `lastSeq`. */
function anchorsWithin(anchors: ReadonlyMap<number, Uint8Array>, afterSeq: number, lastSeq: number): Map<number, Uint8Array> {
  const within = new Map<number, Uint8Array>()
  for (const [seq, hash] of anchors) if (seq > afterSeq && seq <= lastSeq) within.set(seq, hash)
  return within
}

/** A tenant's signed checkpoints in PostgreSQL. Scoped to the tenant in SQL. */
export async function readSignedCheckpoints(sql: Sql, tenantId: string): Promise<SignedCheckpoint[]> {
  const rows = await sql<{ shard: number; seq: number; chain_hash: Uint8Array; signed_at: Date; key_id: string; signature: Uint8Array }[]>`
    SELECT shard, seq, chain_hash, signed_at, key_id, signature FROM signed_checkpoints
    WHERE tenant_id = ${tenantId} ORDER BY shard, seq`
  return rows.map((r) => ({
    tenantId,
    shard: r.shard,
    seq: r.seq,
    chainHash: bytesToHex(new Uint8Array(r.chain_hash)),
    signedAt: r.signed_at.toISOString(),
    keyId: r.key_id,
    signature: toBase64Url(new Uint8Array(r.signature)),
  }))
}

interface AnchorPoint {
  hash: Uint8Array
  anchors: Anchor[]
}

/**
 * Recomputes every chain of a tenant from PostgreSQL: canonical form, the three digests, each link, and
 * finally that the last link equals the chain head (so truncating the end is caught too). Against the
 * anchors: every signed checkpoint in PostgreSQL must verify under a published key; the chain must have
 * exactly the signed hash at every checkpointed position, whether the checkpoint comes from PostgreSQL,
 * the document store or the SIEM; no anchored position may lie past the head; and every checkpoint an
 * anchor holds must still be in PostgreSQL. The report names the first sequence number that disagrees
 * and the anchor it disagrees with; the rows changed lie after `last_agreeing_seq` and at or before it.
 *
 * A chain whose beginning retention purged starts from its retention checkpoint, once shown genuine
 * (signature and attestation, see checkpointProblem). Reads in pages with keyset pagination, as COPY text
 * (two pages per chain at most in memory), and verifies the pages on worker threads (`threads`), one chain
 * more at a time than there are threads; the report is the same with any number of threads. Scoped to
 * one tenant in SQL.
 */
export async function verifyTenantChain(sql: Sql, tenantId: string, digester: Digester, options: VerifyOptions = {}): Promise<TenantVerification> {
  const heads = await sql<HeadRow[]>`
    SELECT shard, seq, head_hash FROM chain_heads WHERE tenant_id = ${tenantId} ORDER BY shard`
  const checkpoints = await readChainCheckpoints(sql, tenantId)
  const attestations = await readCheckpointAttestations(sql, tenantId, [...new Set([...checkpoints.values()].map((c) => c.purgeEventId))])
  const verifier = options.verifier ?? null
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE
  const signaturesChecked = verifier !== null && verifier.keyIds.length > 0
  const total = heads.reduce((n, h) => n + Math.max(0, h.seq - (checkpoints.get(h.shard)?.seq ?? 0)), 0)
  // Starting threads costs more than verifying a few pages in process: by default, only for many events.
  const threads = options.threads ?? (total >= THREADS_FROM_EVENTS ? await defaultVerificationThreads() : 0)
  const pages = await sharedCopyPageVerifier(threads, digester)
  const progress = { verified: 0, total, threads: pages.threads }

  // Every signed checkpoint, by shard and position; PostgreSQL's with a bad signature become breaks.
  const signed = await readSignedCheckpoints(sql, tenantId)
  const summary: CheckpointSummary = {
    signatures_checked: signaturesChecked,
    postgresql: signed.length,
    docstore: options.anchors?.docstore ? 0 : null,
    siem: options.anchors?.siem ? 0 : null,
    rejected: 0,
    compared: 0,
  }
  const points = new Map<number, Map<number, AnchorPoint>>()
  const inPostgres = new Set<string>()
  const badSignatures = new Map<number, AnchoredBreak[]>()
  const addPoint = (cp: SignedCheckpoint, anchor: Anchor) => {
    const byShard = points.get(cp.shard) ?? new Map<number, AnchorPoint>()
    points.set(cp.shard, byShard)
    const point = byShard.get(cp.seq)
    if (point) point.anchors.push(anchor)
    else byShard.set(cp.seq, { hash: hexToBytes(cp.chainHash), anchors: [anchor] })
  }
  const accepted = async (cp: SignedCheckpoint) => !signaturesChecked || (await checkpointSignatureProblem(verifier!, cp)) === null
  for (const cp of signed) {
    if (await accepted(cp)) {
      addPoint(cp, 'postgresql')
      inPostgres.add(`${cp.shard}/${cp.seq}/${cp.chainHash}`)
    } else {
      const list = badSignatures.get(cp.shard) ?? []
      list.push({ shard: cp.shard, seq: cp.seq, eventId: null, reason: 'checkpoint_signature_invalid', anchor: 'postgresql' })
      badSignatures.set(cp.shard, list)
    }
  }
  const missing = new Map<number, AnchoredBreak[]>()
  for (const anchor of ['docstore', 'siem'] as const) {
    for (const cp of options.anchors?.[anchor] ?? []) {
      if (cp.tenantId !== tenantId) continue
      if (!(await accepted(cp))) {
        summary.rejected++
        continue
      }
      summary[anchor]!++
      addPoint(cp, anchor)
      if (!inPostgres.has(`${cp.shard}/${cp.seq}/${cp.chainHash}`)) {
        const list = missing.get(cp.shard) ?? []
        list.push({ shard: cp.shard, seq: cp.seq, eventId: null, reason: 'checkpoint_missing', anchor })
        missing.set(cp.shard, list)
      }
    }
  }

  const verifyShard = async (startHead: HeadRow): Promise<ShardVerification> => {
    let head = startHead
    let from = { seq: 0, hash: genesisHash(tenantId, head.shard, digester) }
    let verified = 0
    let broken: AnchoredBreak | undefined
    const anchorPoints = points.get(head.shard) ?? new Map<number, AnchorPoint>()
    const anchorHashes = new Map([...anchorPoints].map(([seq, p]) => [seq, p.hash]))
    const checkpoint = checkpoints.get(head.shard)
    if (checkpoint) {
      const problem = await checkpointProblem(checkpoint, attestations.get(checkpoint.purgeEventId)?.get(head.shard), verifier)
      if (problem) broken = { shard: head.shard, seq: checkpoint.seq, eventId: checkpoint.purgeEventId, reason: 'checkpoint_mismatch' }
      else from = { seq: checkpoint.seq, hash: checkpoint.chainHash }
      const atBoundary = anchorPoints.get(checkpoint.seq)
      if (!broken && atBoundary && !constantTimeEqual(atBoundary.hash, checkpoint.chainHash)) {
        broken = { shard: head.shard, seq: checkpoint.seq, eventId: checkpoint.purgeEventId, reason: 'checkpoint_mismatch', anchor: atBoundary.anchors[0]! }
      }
    }
    /** Verifies one page onward from `from`; false once it breaks the chain. */
    const verifyPage = async ({ page, lastSeq }: CopyPage): Promise<boolean> => {
      const result = await pages.verify({ page, columns: AUTH_LOG_COLUMNS, from, anchors: anchorsWithin(anchorHashes, from.seq, lastSeq) })
      verified += result.count
      progress.verified += result.count
      options.onProgress?.({ ...progress })
      if (!result.ok) {
        broken = result.break.reason === 'anchor_mismatch' ? { ...result.break, anchor: anchorPoints.get(result.break.seq)!.anchors[0]! } : result.break
        return false
      }
      from = { seq: result.seq, hash: result.hash }
      return true
    }
    // The next page is read while this one is verified: PostgreSQL and the hashing overlap.
    let next = broken ? null : readPage(sql, tenantId, head.shard, from.seq, pageSize)
    while (next) {
      const current = await next
      next = current.rows === pageSize ? readPage(sql, tenantId, head.shard, current.lastSeq, pageSize) : null
      // Not awaited when this page breaks the chain; awaited below otherwise, where its error is thrown.
      next?.catch(() => {})
      if (current.rows === 0 || !(await verifyPage(current))) break
    }
    // Events appended while the pages were read lie past the head read at the start. The events still
    // unread and the head are read in one snapshot, in which the head must be the last event: so an
    // append during verification is verified too, and a head moved back still fails.
    if (!broken) {
      await options.onPagesRead?.(head.shard)
      head = await sql.begin('isolation level repeatable read read only', async (tx) => {
        for (;;) {
          const rest = await readPageIn(tx, tenantId, head.shard, from.seq, pageSize)
          if (rest.rows === 0 || !(await verifyPage(rest)) || rest.rows < pageSize) break
        }
        await options.onTailRead?.(head.shard)
        const [now] = await tx<HeadRow[]>`SELECT shard, seq, head_hash FROM chain_heads WHERE tenant_id = ${tenantId} AND shard = ${head.shard}`
        return now ?? head
      })
    }
    const sorted = [...anchorPoints.entries()].sort(([a], [b]) => a - b)
    // The end was cut off and the head moved back: an anchored position lies past the last event verified.
    const beyond = sorted.find(([seq]) => seq > from.seq)
    if (!broken && beyond) {
      broken = { shard: head.shard, seq: from.seq + 1, eventId: null, reason: 'anchor_beyond_head', anchor: beyond[1].anchors[0]! }
    }
    if (!broken && (from.seq !== head.seq || !constantTimeEqual(from.hash, new Uint8Array(head.head_hash)))) {
      broken = { shard: head.shard, seq: from.seq + 1, eventId: null, reason: 'head_mismatch' }
    }
    // A checkpoint row that does not verify, or one an anchor holds and PostgreSQL lost, may lie before the
    // first break of the chain itself: the report names the lowest position.
    for (const candidate of [...(badSignatures.get(head.shard) ?? []), ...(missing.get(head.shard) ?? [])]) {
      if (!broken || candidate.seq < broken.seq) broken = candidate
    }
    // Anchored positions before a retention checkpoint are those of purged events: nothing compares them
    // (the checkpoint's own position is compared with the checkpoint).
    const start = checkpoint?.seq ?? 0
    const reached = broken ? broken.seq - 1 : from.seq
    const agreeing = sorted.filter(([seq]) => seq >= start && seq <= reached)
    const anchoredSeq = agreeing.length > 0 ? agreeing[agreeing.length - 1]![0] : null
    summary.compared += sorted.filter(([seq]) => seq >= start && seq <= Math.max(from.seq, broken?.seq ?? 0)).length
    // With no anchored position agreeing, what changed lies after the retention checkpoint, or anywhere
    // before the break when that is the checkpoint itself (or a position it purged).
    if (broken?.anchor !== undefined) broken.last_agreeing_seq = anchoredSeq ?? (checkpoint && broken.seq > checkpoint.seq ? checkpoint.seq : 0)
    return {
      shard: head.shard,
      verified,
      head_seq: head.seq,
      ok: !broken,
      anchored_seq: anchoredSeq,
      ...(checkpoint && { checkpoint: { seq: checkpoint.seq, signed: checkpoint.signature !== null } }),
      ...(broken && { break: broken }),
    }
  }

  // Chains are independent: one more at a time than there are threads keeps every thread busy.
  const shards: ShardVerification[] = new Array(heads.length)
  let cursor = 0
  const worker = async () => {
    while (cursor < heads.length) {
      const i = cursor++
      shards[i] = await verifyShard(heads[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(CONCURRENT_CHAINS, pages.threads + 1), heads.length) }, worker))
  const firstBreak = shards.find((s) => s.break)?.break ?? null
  return { ok: firstBreak === null, verified_events: shards.reduce((n, s) => n + s.verified, 0), shards, checkpoints: summary, first_break: firstBreak }
}
