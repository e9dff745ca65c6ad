import { beforeAll, describe, expect, it } from 'vitest'
import type { InvestigatedEvent } from '../src/investigation/query-events.ts'
import { createOrganisation, createUser } from '../src/db/tenants.ts'
import { useTestDatabase } from './support/database.ts'
import { recordTestEvents, type TestEventInput } from './support/test-events.ts'
import { bearerFor, getWith, useSeededTenant, useTestApp } from './support/test-app.ts'

const db = useTestDatabase('inv_events')
const t = useTestApp(db)
const acme = useSeededTenant(db, {
  slug: 'acme',
  users: [{ identifier: 'alice@acme.test' }, { identifier: 'admin@acme.test', role: 'admin' }, { identifier: 'audit@acme.test', role: 'auditor' }, { identifier: 'user@acme.test' }],
})
let admin: string
let auditor: string
const T0 = Date.parse('2026-11-20T08:00:00.000Z')
const inputs: TestEventInput[] = []

beforeAll(async () => {
  admin = await bearerFor(t.tokens, acme, 'admin@acme.test')
  auditor = await bearerFor(t.tokens, acme, 'audit@acme.test')
  const alice = acme.users['alice@acme.test']!
  // 240 events; every tenth shares its timestamp with nine others, so pages split ties on id.
  for (let i = 0; i < 240; i++) {
    const at = new Date(T0 + Math.floor(i / 10) * 60_000)
    const kind = i % 4
    inputs.push({
      at,
      eventType: kind === 3 ? 'login_success' : 'login_failed',
      channel: i % 3 === 0 ? 'mobile' : 'web',
      identifier: kind === 0 ? 'alice@acme.test' : `user${i % 7}@acme.test`,
      userId: kind === 0 ? alice.id : null,
      organisationId: kind === 0 ? acme.organisationId : null,
      ip: i % 5 === 0 ? `2001:db8::${(i % 16).toString(16)}` : `10.1.${i % 3}.${i % 200}`,
      reason: kind === 3 ? null : 'invalid_credentials',
    })
  }
  await recordTestEvents(db.sql, acme.tenant, inputs)
})

async function allPages(query: string, auth = admin, limit = 37): Promise<InvestigatedEvent[]> {
  const events: InvestigatedEvent[] = []
  let cursor: string | null = null
  for (let guard = 0; guard < 100; guard++) {
    const res = await getWith(t.app, `/v1/investigation/events?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, auth)
    expect(res.status).toBe(200)
    const page = (await res.json()) as { events: InvestigatedEvent[]; next_cursor: string | null }
    expect(page.events.length).toBeLessThanOrEqual(limit)
    events.push(...page.events)
    cursor = page.next_cursor
    if (!cursor) return events
  }
  throw new Error('pagination did not end')
}

const key = (e: InvestigatedEvent) => `${e.occurred_at}|${e.id}`

describe('GET /v1/investigation/events', () => {
  it('pages through everything newest first and oldest first, each event exactly once, ties split on id', async () => {
    const newest = await allPages('order=newest')
    expect(newest).toHaveLength(240)
    expect(new Set(newest.map((e) => e.id)).size).toBe(240)
    const sortedDesc = [...newest].sort((a, b) => (key(a) < key(b) ? 1 : -1))
    expect(newest.map((e) => e.id)).toEqual(sortedDesc.map((e) => e.id))
    const oldest = await allPages('order=oldest', auditor, 50)
    expect(oldest.map((e) => e.id)).toEqual([...newest].reverse().map((e) => e.id))
  })

  it('filters by user, identifier (normalised), address, CIDR (v4 and v6), type, channel, outcome and time', async () => {
    const count = (predicate: (i: TestEventInput) => boolean) => inputs.filter(predicate).length
    const alice = acme.users['alice@acme.test']!.id
    expect(await allPages(`user_id=${alice}`)).toHaveLength(count((i) => i.userId === alice))
    expect(await allPages(`identifier=${encodeURIComponent('  USER3@Acme.test ')}`)).toHaveLength(count((i) => i.identifier === 'user3@acme.test'))
    expect(await allPages('ip=10.1.1.7')).toHaveLength(count((i) => i.ip === '10.1.1.7'))
    expect(await allPages(`ip=${encodeURIComponent('10.1.2.0/24')}`)).toHaveLength(count((i) => i.ip!.startsWith('10.1.2.')))
    expect(await allPages(`ip=${encodeURIComponent('10.0.0.0/8')}`)).toHaveLength(count((i) => i.ip!.startsWith('10.')))
    expect(await allPages(`ip=${encodeURIComponent('2001:db8::/120')}`)).toHaveLength(count((i) => i.ip!.startsWith('2001:')))
    expect(await allPages('event_type=login_success')).toHaveLength(count((i) => i.eventType === 'login_success'))
    expect(await allPages('event_type=login_success,account_locked&channel=mobile')).toHaveLength(
      count((i) => i.eventType === 'login_success' && i.channel === 'mobile'),
    )
    expect(await allPages('outcome=failure')).toHaveLength(count((i) => i.eventType === 'login_failed'))
    const from = new Date(T0 + 5 * 60_000).toISOString()
    const to = new Date(T0 + 9 * 60_000).toISOString()
    const windowed = await allPages(`from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&order=oldest`)
    expect(windowed).toHaveLength(40)
    expect(windowed[0]!.occurred_at).toBe(from)
    expect(windowed.every((e) => e.occurred_at < to)).toBe(true)
  })

  it('shows the stored event with its place in the chain', async () => {
    const res = await getWith(t.app, '/v1/investigation/events?order=oldest&limit=1', admin)
    const [first] = ((await res.json()) as { events: InvestigatedEvent[] }).events
    const [row] = await db.sql<{ id: string; identifier: string; shard: number; seq: number; chain_hash: Uint8Array }[]>`
      SELECT id, identifier, shard, seq, chain_hash FROM auth_logs WHERE tenant_id = ${acme.tenant.id} ORDER BY occurred_at, id LIMIT 1`
    expect(first).toMatchObject({ id: row!.id, identifier: row!.identifier, shard: row!.shard, seq: row!.seq, chain_hash: Buffer.from(row!.chain_hash).toString('hex') })
    expect(first!.occurred_at).toBe(new Date(T0).toISOString())
  })

  it('answers bad parameters with a problem naming the field', async () => {
    for (const [query, field] of [
      ['ip=not-an-ip', 'ip'],
      ['ip=10.0.0.0/33', 'ip'],
      ['event_type=login_failed,nope', 'event_type'],
      ['limit=0', 'limit'],
      ['from=yesterday', 'from'],
      ['from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z', 'to'],
      ['cursor=garbage', 'cursor'],
    ] as const) {
      const res = await getWith(t.app, `/v1/investigation/events?${query}`, admin)
      expect(res.status, query).toBe(400)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
      const body = (await res.json()) as { code: string; errors: { field: string }[] }
      expect(body.code).toBe('validation_failed')
      expect(body.errors.map((e) => e.field)).toContain(field)
    }
    // A cursor is bound to its order.
    const page = (await (await getWith(t.app, '/v1/investigation/events?limit=5&order=newest', admin)).json()) as { next_cursor: string }
    const res = await getWith(t.app, `/v1/investigation/events?order=oldest&cursor=${page.next_cursor}`, admin)
    expect(res.status).toBe(400)
  })

  it('requires an admin or auditor token', async () => {
    expect((await getWith(t.app, '/v1/investigation/events')).status).toBe(401)
    expect((await getWith(t.app, '/v1/investigation/events', 'Bearer a.b.c')).status).toBe(401)
    const user = await bearerFor(t.tokens, acme, 'user@acme.test')
    const res = await getWith(t.app, '/v1/investigation/events', user)
    expect(res.status).toBe(403)
    expect(((await res.json()) as { code: string }).code).toBe('forbidden')
  })

  it("keeps another organisation's account events out, and shows events that belong to no organisation", async () => {
    const other = await createOrganisation(db.sql, acme.tenant.id, 'subsidiary')
    const { id: bobId } = await createUser(db.sql, { tenantId: acme.tenant.id, organisationId: other.id, identifier: 'bob@sub.test', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$x$y', role: 'admin' })
    await recordTestEvents(db.sql, acme.tenant, [{ at: new Date(T0), identifier: 'bob@sub.test', userId: bobId, organisationId: other.id, ip: '10.9.9.9' }])
    expect(await allPages('identifier=bob@sub.test')).toHaveLength(0)
    expect(await allPages('ip=10.9.9.9')).toHaveLength(0)
    expect(await allPages('identifier=user1@acme.test')).not.toHaveLength(0)
    const subAdmin = `Bearer ${await t.tokens.issue({ sub: bobId, tid: acme.tenant.id, org: other.id, role: 'admin', jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 })}`
    expect(await allPages('identifier=bob@sub.test', subAdmin)).toHaveLength(1)
    expect(await allPages(`user_id=${acme.users['alice@acme.test']!.id}`, subAdmin)).toHaveLength(0)
  })
})
