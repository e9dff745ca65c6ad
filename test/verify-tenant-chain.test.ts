import { describe, expect, it } from 'vitest'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { recordEvents, type EventDraft } from '../src/audit/record-events.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import type { Tenant } from '../src/db/tenants.ts'
import { createSql } from '../src/db/client.ts'
import { useTestDatabase } from './support/database.ts'
import { startFaultProxy } from './support/fault-proxy.ts'
import { appendEvents, createChainTenant } from './support/outbox-fixtures.ts'

// What verification must notice in the chain heads, per shard, and across pages of a long chain.

const db = useTestDatabase('verify_tenant_chain')

/** Runs SQL as the superuser with triggers disabled: what an attacker with database access could do. */
async function asSuperuserBypassingTriggers(statement: string) {
  await db.sql.begin(async (tx) => {
    await tx`SET LOCAL session_replication_role = replica`
    await tx.unsafe(statement)
  })
}

/** Appends `count` events to one chain through the real write path, in one transaction. */
async function appendMany(tenant: Tenant, shard: number, count: number, userAgent = 'vitest') {
  const draft: EventDraft = {
    eventType: 'login_failed',
    outcome: 'failure',
    reason: 'invalid_credentials',
    metadata: { failed_attempts: 1, locked_until: null },
    origin: { ip: '198.51.100.9', userAgent, deviceId: null, channel: 'web' },
    organisationId: null,
    userId: null,
    identifier: null,
  } as EventDraft
  await db.sql.begin((tx) => recordEvents(tx, tenant, Array.from({ length: count }, () => ({ ...draft })), { now: new Date(), shard }))
}

const verify = (tenant: Tenant) => verifyTenantChain(db.sql, tenant.id, nodeDigester)

describe('verifyTenantChain', () => {
  it('a connection lost while a page is being read: the verification fails with the connection error, neither hanging nor crashing', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    await appendMany(tenant, 0, 3_000)
    const proxy = await startFaultProxy(db.url)
    const throughProxy = createSql(proxy.url, { max: 2 })
    try {
      // The page is 3,000 events of COPY text, megabytes: the reset falls inside the stream of its rows. The
      // stream's error must reach the verification (which fails with it): unheard, it would be an uncaught
      // exception, which fails this run ("Unhandled Errors") as it would bring a service down.
      proxy.cutAfterServerBytes(256 * 1024)
      const outcome = await verifyTenantChain(throughProxy, tenant.id, nodeDigester, { threads: 0 }).then(
        () => 'verified',
        (error: { code?: string }) => error.code,
      )
      expect(outcome).toMatch(/^(ECONNRESET|CONNECTION_CLOSED)$/)
    } finally {
      await throughProxy.end({ timeout: 5 })
      await proxy.close()
    }
  }, 120_000)

  it('reports each shard on its own: a break in one leaves the others ok', async () => {
    const tenant = await createChainTenant(db.sql, 3)
    for (const shard of [0, 1, 2]) await appendEvents(db.sql, tenant, shard, 3)
    const intact = await verify(tenant)
    expect(intact.ok).toBe(true)
    expect(intact.first_break).toBeNull()
    expect(intact.verified_events).toBe(9)
    expect(intact.shards.map((s) => [s.shard, s.ok, s.verified, s.head_seq])).toEqual([
      [0, true, 3, 3],
      [1, true, 3, 3],
      [2, true, 3, 3],
    ])
    for (const s of intact.shards) expect(s.break).toBeUndefined()

    await asSuperuserBypassingTriggers(`UPDATE auth_logs SET outcome = 'success' WHERE tenant_id = '${tenant.id}' AND shard = 1 AND seq = 2`)
    const broken = await verify(tenant)
    expect(broken.ok).toBe(false)
    expect(broken.shards.map((s) => [s.shard, s.ok, s.verified])).toEqual([
      [0, true, 3],
      [1, false, 1],
      [2, true, 3],
    ])
    expect(broken.first_break).toMatchObject({ shard: 1, seq: 2, reason: 'digest_mismatch' })
    expect(broken.shards[1]!.break).toEqual(broken.first_break)
  })

  it('refuses a chain head whose hash was rewritten while its sequence number was left alone', async () => {
    const tenant = await createChainTenant(db.sql, 2)
    for (const shard of [0, 1]) await appendEvents(db.sql, tenant, shard, 2)
    await asSuperuserBypassingTriggers(`UPDATE chain_heads SET head_hash = sha256(head_hash) WHERE tenant_id = '${tenant.id}' AND shard = 1`)
    const result = await verify(tenant)
    expect(result.ok).toBe(false)
    expect(result.first_break).toEqual({ shard: 1, seq: 3, eventId: null, reason: 'head_mismatch' })
    expect(result.shards.map((s) => s.ok)).toEqual([true, false])
  })

  it('refuses a chain head moved back to hide the last event, and one moved forward', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    await appendEvents(db.sql, tenant, 0, 3)
    await asSuperuserBypassingTriggers(`UPDATE chain_heads SET seq = 2 WHERE tenant_id = '${tenant.id}' AND shard = 0`)
    expect((await verify(tenant)).first_break).toMatchObject({ shard: 0, reason: 'head_mismatch' })
    await asSuperuserBypassingTriggers(`UPDATE chain_heads SET seq = 4 WHERE tenant_id = '${tenant.id}' AND shard = 0`)
    expect((await verify(tenant)).first_break).toMatchObject({ shard: 0, seq: 4, reason: 'head_mismatch' })
  })

  it('verifies events appended while it runs (the checkpointer and logins append all the time), and reports them', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    await appendMany(tenant, 0, 1000)
    // Started after the first page: it commits while the remaining 99 pages are read.
    let appending: Promise<void> | null = null
    const result = await verifyTenantChain(db.sql, tenant.id, nodeDigester, {
      pageSize: 10,
      threads: 0,
      onProgress: () => void (appending ??= appendMany(tenant, 0, 7)),
    })
    await appending
    expect(result.first_break).toBeNull()
    expect(result.ok).toBe(true)
    expect(result.shards[0]).toMatchObject({ verified: 1007, head_seq: 1007, ok: true })
  })

  it('verifies the events appended once its pages were read, in the snapshot it reads the head in, and finds a break among them', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    await appendMany(tenant, 0, 3)
    const paged = (onPagesRead: () => Promise<void>) => verifyTenantChain(db.sql, tenant.id, nodeDigester, { pageSize: 4, threads: 0, onPagesRead })
    // Nine events committed after the last page was read and before the head is: more than two pages of four.
    const intact = await paged(() => appendMany(tenant, 0, 9))
    expect(intact).toMatchObject({ ok: true, verified_events: 12, first_break: null })
    expect(intact.shards[0]).toMatchObject({ verified: 12, head_seq: 12, ok: true })

    // Verified, not merely counted: one of those appended meanwhile altered is the first break.
    const broken = await paged(async () => {
      await appendMany(tenant, 0, 9)
      await asSuperuserBypassingTriggers(`UPDATE auth_logs SET outcome = 'success' WHERE tenant_id = '${tenant.id}' AND shard = 0 AND seq = 18`)
    })
    expect(broken.first_break).toMatchObject({ shard: 0, seq: 18, reason: 'digest_mismatch' })
    expect(broken.shards[0]).toMatchObject({ verified: 17, ok: false })
  })

  it('reads the last events and the head in one snapshot: an append committed between the two is not a moved head', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    await appendMany(tenant, 0, 6)
    const result = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { pageSize: 4, threads: 0, onTailRead: () => appendMany(tenant, 0, 2) })
    expect(result).toMatchObject({ ok: true, verified_events: 6, first_break: null })
    expect(result.shards[0]).toMatchObject({ verified: 6, head_seq: 6, ok: true })
    // The next verification sees them.
    expect((await verifyTenantChain(db.sql, tenant.id, nodeDigester, { pageSize: 4, threads: 0 })).shards[0]).toMatchObject({ verified: 8, head_seq: 8, ok: true })
  })

  it('ends the walk at the first break: later pages are neither verified nor reported', async () => {
    const tenant = await createChainTenant(db.sql, 1)
    await appendMany(tenant, 0, 20)
    await asSuperuserBypassingTriggers(`UPDATE auth_logs SET outcome = 'success' WHERE tenant_id = '${tenant.id}' AND shard = 0 AND seq IN (2, 14)`)
    const result = await verifyTenantChain(db.sql, tenant.id, nodeDigester, { pageSize: 4, threads: 0 })
    expect(result.first_break).toMatchObject({ shard: 0, seq: 2, reason: 'digest_mismatch' })
    expect(result).toMatchObject({ ok: false, verified_events: 1 })
    expect(result.shards[0]).toMatchObject({ verified: 1, ok: false })
  })

  it('verifies across page boundaries (a chain of whole pages, one page and a bit), and finds a break past the first page', async () => {
    const tenant = await createChainTenant(db.sql, 3)
    await appendMany(tenant, 0, 8)
    await appendMany(tenant, 1, 11)
    await appendMany(tenant, 2, 3)
    const paged = (t: Tenant) => verifyTenantChain(db.sql, t.id, nodeDigester, { pageSize: 4 })
    const result = await paged(tenant)
    expect(result).toMatchObject({ ok: true, verified_events: 22, first_break: null })
    expect(result.shards.map((s) => [s.shard, s.verified, s.head_seq, s.ok])).toEqual([
      [0, 8, 8, true],
      [1, 11, 11, true],
      [2, 3, 3, true],
    ])

    await asSuperuserBypassingTriggers(`UPDATE auth_logs SET outcome = 'success' WHERE tenant_id = '${tenant.id}' AND shard = 1 AND seq = 10`)
    const broken = await paged(tenant)
    expect(broken.first_break).toMatchObject({ shard: 1, seq: 10, reason: 'digest_mismatch' })
    expect(broken.shards.map((s) => [s.ok, s.verified])).toEqual([
      [true, 8],
      [false, 9],
      [true, 3],
    ])
    // A row deleted at a page boundary is a gap, not the end of the chain.
    await asSuperuserBypassingTriggers(`DELETE FROM auth_logs WHERE tenant_id = '${tenant.id}' AND shard = 0 AND seq = 5`)
    expect((await paged(tenant)).first_break).toMatchObject({ shard: 0, seq: 5, reason: 'sequence_gap' })
  })

  it('gives the same report on 2 worker threads as in process, intact and broken, with values COPY escapes, and reports progress', async () => {
    const tenant = await createChainTenant(db.sql, 3)
    // Tabs, line feeds, backslashes (one spelling COPY's NULL), quotes and non-ASCII: each escaped in COPY text.
    await appendMany(tenant, 0, 9, 'tab\there\nnew line \\N back\\slash "quoted" é 😀 \r\b\f\v')
    // Over 16 KB in one page: arriving whole, the COPY ends before the stream asks for more.
    await appendMany(tenant, 1, 37)
    await appendMany(tenant, 2, 4, '\\N')
    const reports: { verified: number; total: number; threads: number }[] = []
    const onThreads = (t: Tenant) =>
      verifyTenantChain(db.sql, t.id, nodeDigester, { pageSize: 4, threads: 2, onProgress: (p) => reports.push(p) })
    const inProcess = (t: Tenant) => verifyTenantChain(db.sql, t.id, nodeDigester, { pageSize: 4, threads: 0 })

    const intact = await onThreads(tenant)
    expect(intact).toMatchObject({ ok: true, verified_events: 50, first_break: null })
    expect(intact).toEqual(await inProcess(tenant))
    expect(await verifyTenantChain(db.sql, tenant.id, nodeDigester, { threads: 2 })).toEqual(intact)
    // Verified on the threads: a fallback to in process would report 0.
    expect(reports.length).toBe(3 + 10 + 1)
    expect(reports.every((p) => p.threads === 2 && p.total === 50)).toBe(true)
    expect(reports.at(-1)!.verified).toBe(50)

    // The escaped user agent changed by one character: the digest no longer matches.
    await asSuperuserBypassingTriggers(`UPDATE auth_logs SET user_agent = replace(user_agent, 'é', 'e') WHERE tenant_id = '${tenant.id}' AND shard = 0 AND seq = 6`)
    await asSuperuserBypassingTriggers(`UPDATE auth_logs SET outcome = 'success' WHERE tenant_id = '${tenant.id}' AND shard = 2 AND seq = 3`)
    const broken = await onThreads(tenant)
    expect(broken.first_break).toMatchObject({ shard: 0, seq: 6, reason: 'digest_mismatch' })
    expect(broken.shards.map((s) => [s.ok, s.verified])).toEqual([
      [false, 5],
      [true, 37],
      [false, 2],
    ])
    expect(broken).toEqual(await inProcess(tenant))
  })
})
