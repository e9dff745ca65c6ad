import { beforeAll, describe, expect, it } from 'vitest'
import { streamEvents } from '../src/admin/export-audit-trail.ts'
import { csvCell } from '../src/admin/export-formats.ts'
import type { ChainedEvent } from '../src/core/auth-event.ts'
import { createSql } from '../src/db/client.ts'
import { useTestDatabase } from './support/database.ts'
import { recordTestEvents } from './support/test-events.ts'
import { parseCefWithLognormalizer } from './support/lognormalizer.ts'
import { bearerFor, getWith, useSeededTenant, useTestApp } from './support/test-app.ts'

const T0 = Date.parse('2026-11-20T10:00:00.000Z')
const RANGE = `from=${encodeURIComponent(new Date(T0).toISOString())}&to=${encodeURIComponent(new Date(T0 + 3_600_000).toISOString())}`
const HOSTILE = ['=cmd|\' /C calc\'!A0', 'a,b"c\nd', '+1-555', '@SUM(1)', 'jörg😀@exämple.com']

const db = useTestDatabase('admin_export')
const t = useTestApp(db)
const open = useSeededTenant(db, { slug: 'open', canDownload: true, users: [{ identifier: 'admin@open.test', role: 'admin' }, { identifier: 'audit@open.test', role: 'auditor' }, { identifier: 'user@open.test' }] })
const closed = useSeededTenant(db, { slug: 'closed', canDownload: false, users: [{ identifier: 'admin@closed.test', role: 'admin' }] })
let ids: string[]

beforeAll(async () => {
  const identifiers = [...HOSTILE, ...Array.from({ length: 25 }, (_, i) => `user${i}@open.test`)]
  const events = await recordTestEvents(
    db.sql,
    open.tenant,
    identifiers.map((identifier, i) => ({ at: new Date(T0 + i * 60_000), identifier, ip: i % 2 ? '203.0.113.5' : '2001:db8::5', reason: 'invalid_credentials' })),
  )
  ids = events.map((e) => e.id)
  // Outside the range: not exported.
  await recordTestEvents(db.sql, open.tenant, [{ at: new Date(T0 - 1), identifier: 'early@open.test' }, { at: new Date(T0 + 3_600_000), identifier: 'late@open.test' }])
  await recordTestEvents(db.sql, closed.tenant, [{ at: new Date(T0 + 1000), identifier: 'secret@closed.test' }])
  t.clock.now = new Date(T0 + 7_200_000)
})

async function exportAs(format: string, auth: string): Promise<Response> {
  return getWith(t.app, `/v1/admin/export?format=${format}&${RANGE}`, auth)
}

describe('GET /v1/admin/export', () => {
  it('names a download without from after its first event, not the start of time', async () => {
    const admin = await bearerFor(t.tokens, open, 'admin@open.test')
    const res = await getWith(t.app, '/v1/admin/export?format=csv', admin)
    expect(res.status).toBe(200)
    await res.text()
    const [first] = await db.sql<{ at: Date }[]>`SELECT min(occurred_at) AS at FROM auth_logs WHERE tenant_id = ${open.tenant.id}`
    expect(first!.at.getTime()).toBe(T0 - 1)
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="authtrail-open-${new Date(T0 - 1).toISOString().replaceAll(':', '')}.csv"`)
  })

  it('streams NDJSON: every event of the range, in time order, as replicated (digests and links), and audits the export', async () => {
    const admin = await bearerFor(t.tokens, open, 'admin@open.test')
    const res = await exportAs('ndjson', admin)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8')
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="authtrail-open-.*\.ndjson"$/)
    const events = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as ChainedEvent)
    expect(events.map((e) => e.id)).toEqual(ids)
    expect(events[0]!.identifier).toBe(HOSTILE[0])
    expect(events[0]!.digests.sha3_256).toMatch(/^[0-9a-f]{64}$/)

    const [audit] = await db.sql<{ event_type: string; outcome: string; actor_id: string; channel: string; metadata: Record<string, unknown> }[]>`
      SELECT event_type, outcome, actor_id, channel, metadata FROM auth_logs WHERE id = ${res.headers.get('x-audit-event-id')!}`
    expect(audit).toMatchObject({
      event_type: 'audit_exported',
      outcome: 'success',
      actor_id: open.users['admin@open.test']!.id,
      channel: 'admin',
      metadata: { format: 'ndjson', from: new Date(T0).toISOString(), to: new Date(T0 + 3_600_000).toISOString() },
    })
  })

  it('streams CSV with RFC 4180 quoting and formula cells neutralised', async () => {
    const res = await exportAs('csv', await bearerFor(t.tokens, open, 'audit@open.test'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/csv')
    const text = await res.text()
    expect(text.startsWith('id,occurred_at,tenant_id,organisation_id,shard,seq,event_type,')).toBe(true)
    expect(text).toContain(`,'=cmd|' /C calc'!A0,`)
    expect(text).toContain(',"a,b""c\nd",')
    expect(text).toContain(`,'+1-555,`)
    expect(text).toContain(`,'@SUM(1),`)
    expect(text.split('\r\n').filter(Boolean)).toHaveLength(1 + ids.length)
    expect(csvCell(-1)).toBe('-1')
    expect(csvCell(null)).toBe('')
  })

  it('streams CEF that an independent parser (lognormalizer) reads back', async () => {
    const res = await exportAs('cef', await bearerFor(t.tokens, open, 'admin@open.test'))
    expect(res.status).toBe(200)
    const lines = (await res.text()).trimEnd().split('\n')
    expect(lines).toHaveLength(ids.length)
    const parsed = await parseCefWithLognormalizer(lines)
    expect(parsed.map((p) => p.extensions.externalId)).toEqual(ids)
    expect(parsed[1]!.extensions.duser).toBe(HOSTILE[1])
    expect(parsed[4]!.extensions.duser).toBe(HOSTILE[4])
    expect(parsed[0]!.extensions.c6a2).toBe('2001:db8::5')
  })

  it("refuses with 403 download_not_allowed when the plan has no downloads, and audits the refusal", async () => {
    const res = await exportAs('ndjson', await bearerFor(t.tokens, closed, 'admin@closed.test'))
    expect(res.status).toBe(403)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    expect(((await res.json()) as { code: string }).code).toBe('download_not_allowed')
    const refused = await db.sql`
      SELECT outcome, reason FROM auth_logs WHERE tenant_id = ${closed.tenant.id} AND event_type = 'audit_exported'`
    expect(refused).toEqual([{ outcome: 'failure', reason: 'download_not_allowed' }])
  })

  it('requires admin or auditor, and validates the range and format', async () => {
    expect((await exportAs('ndjson', await bearerFor(t.tokens, open, 'user@open.test'))).status).toBe(403)
    expect((await getWith(t.app, '/v1/admin/export')).status).toBe(401)
    const admin = await bearerFor(t.tokens, open, 'admin@open.test')
    expect((await getWith(t.app, '/v1/admin/export?format=xml', admin)).status).toBe(400)
    expect((await getWith(t.app, `/v1/admin/export?from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z`, admin)).status).toBe(400)
  })
})

describe('streamEvents', () => {
  it('pulls batch by batch from a cursor, and a cancelled export gives its connection back', async () => {
    const single = createSql(db.url, { max: 1 })
    try {
      const scope = { tenantId: open.tenant.id, organisationId: null }
      const range = { from: new Date(T0), to: new Date(T0 + 3_600_000) }
      const all = await new Response(streamEvents({ sql: single, batchSize: 7 }, scope, range, 'ndjson')).text()
      expect(all.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(ids)

      const reader = streamEvents({ sql: single, batchSize: 7 }, scope, range, 'ndjson').getReader()
      const first = await reader.read()
      expect(new TextDecoder().decode(first.value).trimEnd().split('\n')).toHaveLength(7)
      await reader.cancel()
      // With one connection in the pool, this would wait for ever if the cursor still held it.
      const [row] = await Promise.race([single`SELECT 1 AS one`, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connection not released')), 5000))])
      expect(row).toEqual({ one: 1 })
    } finally {
      await single.end({ timeout: 5 })
    }
  })
})
