import type { OpenAPIHono } from '@hono/zod-openapi'
import type { TokenService } from '../../auth/tokens.ts'
import { verifyTenantChain } from '../../audit/verify-tenant-chain.ts'
import { nodeDigester } from '../../audit/node-digester.ts'
import type { Sql } from '../../db/client.ts'
import type { AppEnv } from '../../http/app-env.ts'
import { requireRole } from '../../http/require-role.ts'
import { verifyRoute } from './verify.routes.ts'

/** GET /v1/audit/verify: the caller's tenant only; retention checkpoints are trusted only if they verify. */
export function registerVerifyRoutes(app: OpenAPIHono<AppEnv>, deps: { sql: Sql; tokens: TokenService; checkpointKey: Uint8Array | null }): void {
  app.use(verifyRoute.path, requireRole(deps.tokens, ['admin', 'auditor']))
  app.openapi(verifyRoute, async (c) => {
    const result = await verifyTenantChain(deps.sql, c.get('session').tid, nodeDigester, { checkpointKey: deps.checkpointKey })
    return c.json(result, 200)
  })
}
