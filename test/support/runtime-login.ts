import { expect } from 'vitest'
import { createTokenService } from '../../src/auth/tokens.ts'
import type { Sql } from '../../src/db/client.ts'
import type { SeededTenant } from './test-app.ts'
import { testTokenService } from './test-app.ts'

// The check every runtime passes (Node, Bun, Deno, Deno without native code, workerd): a right-password web
// login and a wrong-password mobile login over real HTTP, then exactly the rows each must have written.
// Each runtime has its own tenant with one chain shard, so its rows and its chain head can be checked exactly.

interface LogRow {
  id: string
  seq: number
  event_type: string
  channel: string
  outcome: string
  user_id: string | null
  identifier: string
  ip: string
  user_agent: string
  device_id: string | null
  token_jti: string | null
  prev_hash: Uint8Array
  chain_hash: Uint8Array
}

/** Everything the tenant's login attempts wrote, in chain order. */
async function tenantState(sql: Sql, tenantId: string) {
  const logs = await sql<LogRow[]>`
    SELECT id, seq, event_type, channel, outcome, user_id, identifier, ip, user_agent, device_id, token_jti, prev_hash, chain_hash
    FROM auth_logs WHERE tenant_id = ${tenantId} ORDER BY seq`
  const outbox = await sql<{ event_id: string; seq: number }[]>`SELECT event_id, seq FROM outbox WHERE tenant_id = ${tenantId} ORDER BY seq`
  const [lockout] = await sql<{ failed_login_attempts: number; last_failed_at: Date | null; account_locked_until: Date | null }[]>`
    SELECT failed_login_attempts, last_failed_at, account_locked_until FROM account_lockouts WHERE tenant_id = ${tenantId}`
  const [head] = await sql<{ seq: number; head_hash: Uint8Array }[]>`SELECT seq, head_hash FROM chain_heads WHERE tenant_id = ${tenantId}`
  return { logs, outbox, lockout, head: head! }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

export interface RuntimeLoginTarget {
  sql: Sql
  baseUrl: string
  seeded: SeededTenant
  identifier: string
  /** Sent as the user agent and the device id, so each runtime's rows are recognisable. */
  label: string
}

function post(target: RuntimeLoginTarget, path: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${target.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': `authtrail-runtime-test/${target.label}` },
    body: JSON.stringify(body),
  })
}

/**
 * Logs in with the right password (web), then with a wrong one (mobile), and checks the answers and the
 * rows: one audit row per attempt, its outbox row, the lockout row, and the chain head advanced and linked.
 * Returns the two event ids.
 */
export async function expectRightAndWrongLogin(target: RuntimeLoginTarget): Promise<{ successId: string; failureId: string }> {
  const { sql, seeded, identifier, label } = target
  const { tenant } = seeded
  const user = seeded.users[identifier]!

  const ok = await post(target, '/v1/auth/login', { tenant: tenant.slug, identifier, password: user.password })
  expect(ok.status).toBe(200)
  const success = (await ok.json()) as { access_token: string; event_id: string }
  expect(ok.headers.get('set-cookie')).toMatch(/^__Host-authtrail_session=.+; HttpOnly; Secure; SameSite=Strict$/)
  const claims = await testTokenService().verify(success.access_token)
  expect(claims).toMatchObject({ sub: user.id, tid: tenant.id })

  let state = await tenantState(sql, tenant.id)
  expect(state.logs).toHaveLength(1)
  expect(state.logs[0]).toMatchObject({
    id: success.event_id,
    seq: 1,
    event_type: 'login_success',
    channel: 'web',
    outcome: 'success',
    user_id: user.id,
    identifier,
    // The peer address comes from the runtime's own connection info (no proxy is trusted).
    ip: '127.0.0.1',
    user_agent: `authtrail-runtime-test/${label}`,
    token_jti: claims.jti,
  })
  expect(state.outbox).toEqual([{ event_id: success.event_id, seq: 1 }])
  expect(state.lockout).toMatchObject({ failed_login_attempts: 0, account_locked_until: null })
  expect(state.head.seq).toBe(1)
  expect(hex(state.head.head_hash)).toBe(hex(state.logs[0]!.chain_hash))

  const bad = await post(target, '/v1/mobile/auth/login', { tenant: tenant.slug, identifier, password: 'not-the-password', device_id: `device-${label}` })
  expect(bad.status).toBe(401)
  expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  const failure = (await bad.json()) as { code: string; event_id: string }
  expect(failure.code).toBe('invalid_credentials')

  state = await tenantState(sql, tenant.id)
  expect(state.logs).toHaveLength(2)
  expect(state.logs[1]).toMatchObject({
    id: failure.event_id,
    seq: 2,
    event_type: 'login_failed',
    channel: 'mobile',
    outcome: 'failure',
    user_id: user.id,
    ip: '127.0.0.1',
    device_id: `device-${label}`,
    token_jti: null,
  })
  expect(state.outbox).toEqual([
    { event_id: success.event_id, seq: 1 },
    { event_id: failure.event_id, seq: 2 },
  ])
  expect(state.lockout!.failed_login_attempts).toBe(1)
  expect(state.lockout!.last_failed_at).toBeInstanceOf(Date)
  expect(state.lockout!.account_locked_until).toBeNull()
  expect(state.head.seq).toBe(2)
  expect(hex(state.logs[1]!.prev_hash)).toBe(hex(state.logs[0]!.chain_hash))
  expect(hex(state.head.head_hash)).toBe(hex(state.logs[1]!.chain_hash))
  return { successId: success.event_id, failureId: failure.event_id }
}
