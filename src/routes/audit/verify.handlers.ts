import type { OpenAPIHono } from '@hono/zod-openapi'
import type { TokenService } from '../../auth/tokens.ts'
import { nodeDigester } from '../../audit/node-digester.ts'
import { verifyTenantChain } from '../../audit/verify-tenant-chain.ts'
import type { Sql } from '../../db/client.ts'
import type { AppEnv } from '../../http/app-env.ts'
import { requireRole } from '../../http/require-role.ts'
import { createRouter } from '../create-router.ts'
import { verifyRoute } from './verify.routes.ts'

export interface AuditRouteDeps {
  sql: Sql
  tokens: TokenService
  /** HMAC key of retention checkpoints (CHECKPOINT_HMAC_KEY); null trusts them only as far as the chain attests them. */
  checkpointKey: Uint8Array | null
}

/** GET /verify: the caller's tenant only; retention checkpoints are trusted only if they verify. Mounted at /v1/audit. */
export function createAuditRoutes(deps: AuditRouteDeps): OpenAPIHono<AppEnv> {
  const audit = createRouter()
  audit.use(verifyRoute.path, requireRole(deps.tokens, ['admin', 'auditor']))
  audit.openapi(verifyRoute, async (c) => {
    const result = await verifyTenantChain(deps.sql, c.get('session').tid, nodeDigester, { checkpointKey: deps.checkpointKey })
    return c.json(result, 200)
  })
  return audit
}
