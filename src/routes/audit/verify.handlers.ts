import type { OpenAPIHono } from '@hono/zod-openapi'
import type { TokenService } from '../../auth/tokens.ts'
import type { PublishedKey } from '../../audit/checkpoint-keys.ts'
import { recordChainVerification } from '../../audit/chain-verifications.ts'
import { nodeDigester } from '../../audit/node-digester.ts'
import { verifyTenantChain } from '../../audit/verify-tenant-chain.ts'
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
  audit.use(verifyRoute.path, requireRole(deps.tokens, ['admin', 'auditor']))
  audit.openapi(verifyRoute, async (c) => {
    const tenantId = c.get('session').tid
    const { anchors } = c.req.valid('query')
    if (anchors === 'docstore' && deps.documentStore === null) {
      throw ApiError.from('validation_failed', 'no document store is configured', [{ field: 'anchors', detail: 'no document store is configured' }])
    }
    const docstore = anchors === 'docstore' ? await deps.documentStore!.listChainCheckpoints(tenantId) : undefined
    const started = performance.now()
    const result = await verifyTenantChain(deps.sql, tenantId, nodeDigester, { verifier: deps.checkpointVerifier, anchors: { docstore } })
    // Recorded for the live overview: when, by whom, and what it found.
    await recordChainVerification(deps.sql, { tenantId, result, via: 'api', verifiedBy: c.get('session').sub, verifiedAt: deps.clock(), durationMs: performance.now() - started })
    return c.json(result, 200)
  })
  audit.openapi(keysRoute, (c) => c.json({ keys: deps.publishedKeys.map((k) => ({ ...k })) }, 200))
  return audit
}
