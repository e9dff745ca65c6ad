import type { OpenAPIHono } from '@hono/zod-openapi'
import type { TokenService } from '../../auth/tokens.ts'
import type { PublishedKey } from '../../audit/checkpoint-keys.ts'
import { recordChainVerification } from '../../audit/chain-verifications.ts'
import { nodeDigester } from '../../audit/node-digester.ts'
import { lockTenantVerification, type RunningVerification } from '../../audit/verification-lock.ts'
import { verifyTenantChain, type TenantVerification } from '../../audit/verify-tenant-chain.ts'
import type { CheckpointVerifier } from '../../core/checkpoint.ts'
import type { Sql } from '../../db/client.ts'
import { ApiError } from '../../errors/codes.ts'
import type { AppEnv } from '../../http/app-env.ts'
import { requireRole } from '../../http/require-role.ts'
import type { DocumentStore } from '../../sinks/docstore/document-store.ts'
import { createRouter } from '../create-router.ts'
import { keysRoute, verifyRoute } from './verify.routes.ts'

export interface AuditRouteDeps {
  sql: Sql
  tokens: TokenService
  /** The published checkpoint keys; null when none is configured (signatures then go unchecked). */
  checkpointVerifier: CheckpointVerifier | null
  publishedKeys: readonly PublishedKey[]
  /** The document store the relay feeds, when there is one: an anchor for `?anchors=docstore`. */
  documentStore: DocumentStore | null
  clock: () => Date
}

/**
 * GET /verify (the caller's tenant only, against its signed checkpoints and, when asked, the document
 * store's copies of them) and GET /keys (the public checkpoint keys, for anyone). Mounted at /v1/audit.
 */
export function createAuditRoutes(deps: AuditRouteDeps): OpenAPIHono<AppEnv> {
  const audit = createRouter()
  // One verification at a time per tenant (and anchors) in this process: it re-reads the whole trail
  // (about 50 s of CPU at a million events), so a concurrent call, a retry after a 503 from the request
  // bound included, joins the running one and gets its result rather than starting another. Across
  // instances, the tenant's verification lock (lockTenantVerification) lets one verify at a time; a call
  // reaching another instance meanwhile is answered 409 verification_running, naming the running one.
  const running = new Map<string, Promise<TenantVerification>>()
  const verifyOnce = (key: string, run: () => Promise<TenantVerification>): Promise<TenantVerification> => {
    let verification = running.get(key)
    if (verification === undefined) {
      verification = run().finally(() => running.delete(key))
      running.set(key, verification)
    }
    return verification
  }
  audit.use(verifyRoute.path, requireRole(deps.tokens, ['admin', 'auditor']))
  audit.openapi(verifyRoute, async (c) => {
    const tenantId = c.get('session').tid
    const { anchors } = c.req.valid('query')
    if (anchors === 'docstore' && deps.documentStore === null) {
      throw ApiError.from('validation_failed', 'no document store is configured', [{ field: 'anchors', detail: 'no document store is configured' }])
    }
    const verifiedBy = c.get('session').sub
    const result = await verifyOnce(`${tenantId}/${anchors ?? ''}`, async () => {
      const lock = await lockTenantVerification(deps.sql, { tenantId, startedBy: verifiedBy, via: 'api', now: deps.clock() })
      if (lock.kind === 'running') throw verificationRunning(lock.running, deps.clock())
      try {
        const docstore = anchors === 'docstore' ? await deps.documentStore!.listChainCheckpoints(tenantId) : undefined
        const started = performance.now()
        const verification = await verifyTenantChain(deps.sql, tenantId, nodeDigester, { verifier: deps.checkpointVerifier, anchors: { docstore } })
        // Recorded for the live overview: when, by whom (who started it), and what it found.
        await recordChainVerification(deps.sql, { tenantId, result: verification, via: 'api', verifiedBy, verifiedAt: deps.clock(), durationMs: performance.now() - started })
        return verification
      } finally {
        await lock.release()
      }
    })
    return c.json(result, 200)
  })
  audit.openapi(keysRoute, (c) => c.json({ keys: deps.publishedKeys.map((k) => ({ ...k })) }, 200))
  return audit
}

/**
 * 409 for a call that reached an instance while another verifies the tenant's chains: it names that
 * verification (when it began, who asked) and says when to retry, from how long the last one took.
 */
function verificationRunning(running: RunningVerification, now: Date): ApiError {
  const startedAt = running.startedAt
  const elapsedMs = startedAt ? now.getTime() - startedAt.getTime() : 0
  const retryAfter = running.lastDurationMs === null ? 5 : Math.min(300, Math.max(1, Math.ceil((running.lastDurationMs - elapsedMs) / 1000)))
  const by = running.via === 'command' ? 'the verify command' : running.startedBy ? `user ${running.startedBy}` : 'another caller'
  const detail = startedAt
    ? `a verification of this tenant's chains started at ${startedAt.toISOString()} by ${by} is running; retry once it has ended`
    : "a verification of this tenant's chains is running; retry once it has ended"
  return new ApiError('verification_running', detail, undefined, { 'Retry-After': String(retryAfter) })
}
