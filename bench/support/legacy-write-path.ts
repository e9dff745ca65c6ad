import type { OutboxPayload, UnsequencedEvent } from '../../src/core/auth-event.ts'
import { appendToChain } from '../../src/core/chain.ts'
import { nobleDigester } from '../../src/core/digests.ts'
import { shardFor } from '../../src/core/identifier.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { decideLogin } from '../../src/core/lockout-policy.ts'
import { evaluateLoginRisk } from '../../src/auth/login-risk.ts'
import { findLoginAccount } from '../../src/auth/find-login-account.ts'
import type { LoginDeps, LoginInput } from '../../src/auth/attempt-login.ts'
import type { Sql } from '../../src/db/client.ts'
import { lockoutSnapshot, lockoutStateFromRow, type LockoutStateColumns } from '../../src/db/lockouts.ts'

/**
 * The write path as it was before the append function (commit 4071130 and earlier), kept here only as the
 * benchmark's same-run baseline: the account read, then one transaction of lockout upsert (row lock),
 * chain-head seq update, and one CTE writing auth_logs, the head hash, the outbox row and the lockout
 * state, with digests from @noble/hashes in the client; six round trips. The NOTIFY trigger it ran with is
 * installed around its runs by installLegacyNotify. Direct table writes: it needs the owner or a superuser.
 * Only wrong-password attempts that do not lock are supported (the campaign's shape).
 */
export async function legacyAttemptLogin(deps: LoginDeps, input: LoginInput): Promise<{ kind: 'invalid_credentials' }> {
  const { tenant, identifier, origin } = input
  const account = await findLoginAccount(deps.sql, tenant.id, identifier)
  const valid = account.user ? await deps.hasher.verify(account.user.passwordHash, input.password) : false
  if (valid) throw new Error('the legacy baseline records only failed attempts')
  const shard = shardFor(identifier, tenant.chainShards)
  await deps.sql.begin(async (tx) => {
    const [row] = await tx<LockoutStateColumns[]>`
      INSERT INTO account_lockouts (tenant_id, identifier, user_id)
      VALUES (${tenant.id}, ${identifier}, ${account.user?.id ?? null})
      ON CONFLICT ON CONSTRAINT account_lockouts_pkey DO UPDATE SET user_id = EXCLUDED.user_id
      RETURNING failed_login_attempts, window_started_at, last_failed_at, account_locked_until, lockout_count, last_locked_at`
    const state = lockoutStateFromRow(row)
    const now = deps.clock()
    const decision = decideLogin(state, tenant.lockoutPolicy, false, now)
    if (decision.result !== 'invalid_credentials' || decision.effects.length !== 1) throw new Error(`legacy baseline: unexpected ${decision.result}`)
    const effect = decision.effects[0]!
    if (effect.type !== 'login_failed') throw new Error('legacy baseline: unexpected effect')
    const event: UnsequencedEvent = {
      id: uuidv7(now.getTime()),
      tenant_id: tenant.id,
      organisation_id: account.user?.organisationId ?? null,
      event_type: 'login_failed',
      channel: origin.channel,
      user_id: account.user?.id ?? null,
      identifier,
      ip: origin.ip,
      user_agent: origin.userAgent,
      device_id: origin.deviceId,
      occurred_at: now.toISOString(),
      outcome: 'failure',
      reason: effect.reason,
      risk: evaluateLoginRisk({ userExists: account.user !== null, lockout: state, userAgent: origin.userAgent }),
      metadata: { failed_attempts: effect.failures, locked_until: null },
      token_jti: null,
      actor_id: null,
      expires_at: new Date(now.getTime() + tenant.retentionDays * 86_400_000).toISOString(),
    }
    const [head] = await tx<{ seq: number; head_hash: Uint8Array }[]>`
      UPDATE chain_heads SET seq = seq + 1 WHERE tenant_id = ${tenant.id} AND shard = ${shard} RETURNING seq, head_hash`
    const { chained, headHash } = appendToChain([event], { shard, lastSeq: head!.seq - 1, headHash: new Uint8Array(head!.head_hash) }, nobleDigester)
    const e = chained[0]!
    const write = { identifier, userId: account.user?.id ?? null, state: decision.next }
    const payload: OutboxPayload = { event: e, lockout: { ...lockoutSnapshot(tenant.id, write), shard, seq: e.seq } }
    const { digests, prev_hash, chain_hash, ...fields } = e
    const logRow = {
      ...fields,
      occurred_at: new Date(fields.occurred_at),
      expires_at: new Date(fields.expires_at),
      risk: tx.json(fields.risk as never),
      metadata: tx.json(fields.metadata),
      digest_sha256: Buffer.from(digests.sha256, 'hex'),
      digest_sha512: Buffer.from(digests.sha512, 'hex'),
      digest_sha3_256: Buffer.from(digests.sha3_256, 'hex'),
      prev_hash: Buffer.from(prev_hash, 'hex'),
      chain_hash: Buffer.from(chain_hash, 'hex'),
    }
    const outboxRow = { event_id: e.id, tenant_id: e.tenant_id, shard, seq: e.seq, payload: tx.json(payload as never) }
    const s = decision.next
    await tx`
      WITH logs AS (
        INSERT INTO auth_logs ${tx(logRow)} ON CONFLICT (id) DO NOTHING RETURNING id
      ), head AS (
        UPDATE chain_heads SET head_hash = ${Buffer.from(headHash)} WHERE tenant_id = ${tenant.id} AND shard = ${shard}
      ), box AS (
        INSERT INTO outbox ${tx(outboxRow)} ON CONFLICT (event_id) DO NOTHING
      ), state AS (
        UPDATE account_lockouts SET failed_login_attempts = ${s.failedLoginAttempts}, window_started_at = ${s.windowStartedAt},
          last_failed_at = ${s.lastFailedAt}, account_locked_until = ${s.accountLockedUntil}, lockout_count = ${s.lockoutCount},
          last_locked_at = ${s.lastLockedAt}, updated_at = ${now}
        WHERE tenant_id = ${tenant.id} AND identifier = ${identifier}
      )
      SELECT count(*)::int AS inserted FROM logs`
  })
  return { kind: 'invalid_credentials' }
}

/** The per-statement NOTIFY trigger on outbox the legacy path ran with (dropped by the roles migration). */
export async function installLegacyNotify(sql: Sql): Promise<void> {
  await sql`CREATE OR REPLACE FUNCTION bench_legacy_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_notify('authtrail_outbox', ''); RETURN NULL; END $$`
  await sql`CREATE OR REPLACE TRIGGER bench_legacy_outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION bench_legacy_outbox_notify()`
}

export async function removeLegacyNotify(sql: Sql): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS bench_legacy_outbox_notify ON outbox`
}
