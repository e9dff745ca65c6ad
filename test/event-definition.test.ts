import { describe, expect, it } from 'vitest'
import { exportPreamble } from '../src/admin/export-formats.ts'
import { EventDefinitionError, recordEvents } from '../src/audit/record-events.ts'
import { AUTH_LOG_COLUMNS } from '../src/audit/stored-event.ts'
import { EVENT_FIELDS, EVENT_SCHEMAS } from '../src/core/auth-event.ts'
import { CEF_EVENT_NAME, CEF_SEVERITY } from '../src/core/cef.ts'
import { EVENT_CATALOG } from '../src/core/event-catalog.ts'
import { EVENT_CATEGORY, EVENT_TYPES } from '../src/core/event-types.ts'
import { shardFor } from '../src/core/identifier.ts'
import { TENANT_SHARD } from '../src/core/tenancy.ts'
import { buildOpenApiDocument } from '../src/openapi-document.ts'
import { EVENTS_COLLECTION_SPEC } from '../src/sinks/docstore/mongo-schema.ts'
import { useTestDatabase } from './support/database.ts'
import { createChainTenant } from './support/outbox-fixtures.ts'

/**
 * An event type is defined once, in the catalog; everything else is derived from it. These tests fail
 * when a type lacks any of what the rest of the service needs, or when a derived place drifts.
 */

const db = useTestDatabase('event_definition')
const sorted = (values: Iterable<string>) => [...values].sort()
const origin = { ip: null, userAgent: null, deviceId: null, channel: 'system' } as const

describe('every event type', () => {
  it('has a category, a CEF name and a severity from 0 to 10, and schemas for its outcome, reason and metadata', () => {
    expect(EVENT_TYPES.length).toBeGreaterThan(0)
    for (const type of EVENT_TYPES) {
      const definition = EVENT_CATALOG[type]
      expect(EVENT_CATEGORY[type], type).toMatch(/^(authentication|account_state|registration|administration)$/)
      expect(CEF_EVENT_NAME[type], type).toMatch(/^\S.{2,62}$/)
      expect(CEF_SEVERITY[type], type).toBeGreaterThanOrEqual(0)
      expect(CEF_SEVERITY[type], type).toBeLessThanOrEqual(10)
      for (const part of ['outcome', 'reason', 'metadata'] as const) expect(typeof definition[part].safeParse, `${type}.${part}`).toBe('function')
      expect(EVENT_SCHEMAS[type].shape.event_type.value, type).toBe(type)
    }
  })

  it('is known to PostgreSQL (a new type needs the migration that extends auth_event_type_known)', async () => {
    const rows = await db.sql<{ type: string; known: boolean }[]>`
      SELECT type, auth_event_type_known(type) AS known FROM unnest(${[...EVENT_TYPES, 'no_such_event']}::text[]) AS type`
    expect(rows.filter((r) => r.known).map((r) => r.type)).toEqual([...EVENT_TYPES])
    const [check] = await db.sql<{ definition: string }[]>`
      SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = 'auth_logs_event_type_known'`
    expect(check!.definition).toContain('auth_event_type_known(event_type)')
  })

  it('is in the OpenAPI schemas of events and dead letters, and in the document store validator', async () => {
    const doc = (await buildOpenApiDocument()) as { components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> } }
    expect(doc.components.schemas.InvestigatedEvent!.properties.event_type!.enum).toEqual([...EVENT_TYPES])
    expect(doc.components.schemas.DeadLetter!.properties.event_type!.enum).toEqual([...EVENT_TYPES])
    expect(EVENTS_COLLECTION_SPEC.validator.$jsonSchema.properties!.event_type!.enum).toEqual([...EVENT_TYPES])
  })
})

describe('every field of the event definition', () => {
  it('is in the OpenAPI event schema, the document store validator, the auth_logs columns and the CSV export', async () => {
    const doc = (await buildOpenApiDocument()) as { components: { schemas: Record<string, { required: string[] }> } }
    expect(sorted(doc.components.schemas.InvestigatedEvent!.required)).toEqual(sorted([...EVENT_FIELDS.filter((f) => f !== 'tenant_id'), 'chain_hash']))
    const documentFields = EVENTS_COLLECTION_SPEC.validator.$jsonSchema.required!
    expect(sorted(documentFields)).toEqual(sorted([...EVENT_FIELDS.map((f) => (f === 'id' ? '_id' : f)), 'digests', 'prev_hash', 'chain_hash']))
    expect(AUTH_LOG_COLUMNS.slice(0, EVENT_FIELDS.length)).toEqual(EVENT_FIELDS)
    const csvColumns = exportPreamble('csv').trim().split(',')
    for (const field of EVENT_FIELDS.filter((f) => f !== 'risk')) expect(csvColumns, field).toContain(field)
    expect(csvColumns).toEqual(expect.arrayContaining(['risk_score', 'risk_signals']))
  })

  it('is a column of auth_logs', async () => {
    const columns = await db.sql<{ column_name: string }[]>`
      SELECT column_name FROM information_schema.columns WHERE table_name = 'auth_logs'`
    expect(columns.map((c) => c.column_name)).toEqual(expect.arrayContaining(AUTH_LOG_COLUMNS))
  })
})

describe('recordEvents', () => {
  it('refuses an event that does not match its definition, and writes nothing', async () => {
    const tenant = await createChainTenant(db.sql, 4)
    const now = new Date()
    const bad = { eventType: 'login_success', outcome: 'success', origin, metadata: { failed_attempts: 1 } } as never
    await expect(db.sql.begin((tx) => recordEvents(tx, tenant, [bad], { now }))).rejects.toBeInstanceOf(EventDefinitionError)
    const reasonless = { eventType: 'login_failed', outcome: 'failure', origin, metadata: { failed_attempts: 1, locked_until: null } } as never
    await expect(db.sql.begin((tx) => recordEvents(tx, tenant, [reasonless], { now }))).rejects.toThrow(/reason/)
    const [head] = await db.sql`SELECT sum(seq)::int AS n FROM chain_heads WHERE tenant_id = ${tenant.id}`
    expect(head!.n).toBe(0)
  })

  it("puts an account's events in its shard, the others in the tenant shard, with the tenant's retention", async () => {
    const tenant = await createChainTenant(db.sql, 4)
    const now = new Date('2026-12-01T10:00:00.000Z')
    const identifier = 'alice@example.com'
    const [attempt] = await db.sql.begin((tx) =>
      recordEvents(tx, tenant, [{ eventType: 'login_failed', outcome: 'failure', reason: 'invalid_request', origin, identifier, metadata: { problem_code: 'malformed_json', invalid_fields: [] } }], { now }),
    )
    const [exported] = await db.sql.begin((tx) =>
      recordEvents(tx, tenant, [{ eventType: 'audit_exported', outcome: 'success', origin, metadata: { format: 'csv', from: null, to: now.toISOString(), organisation_scope: null } }], { now }),
    )
    expect(attempt!.shard).toBe(shardFor(identifier, 4))
    expect(exported!.shard).toBe(TENANT_SHARD)
    expect(attempt!.occurred_at).toBe(now.toISOString())
    expect(Date.parse(attempt!.expires_at) - now.getTime()).toBe(tenant.retentionDays * 86_400_000)
    // Returned as chained: its position, link and digests (hex) those stored.
    const [stored] = await db.sql`SELECT seq, prev_hash, chain_hash, digest_sha256, digest_sha512, digest_sha3_256 FROM auth_logs WHERE id = ${attempt!.id}`
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
    expect([attempt!.seq, attempt!.prev_hash, attempt!.chain_hash, attempt!.digests.sha256, attempt!.digests.sha512, attempt!.digests.sha3_256]).toEqual(
      [Number(stored!.seq), hex(stored!.prev_hash), hex(stored!.chain_hash), hex(stored!.digest_sha256), hex(stored!.digest_sha512), hex(stored!.digest_sha3_256)],
    )
  })

  it('records together only events of one chain, names the field a refused event got wrong, and gives an event without a risk evaluation none', async () => {
    const tenant = await createChainTenant(db.sql, 4)
    const now = new Date('2026-12-01T10:00:00.000Z')
    const [a, b] = ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com', 'e@example.com'].filter((x, _, all) => shardFor(x, 4) !== shardFor(all[0]!, 4) || x === all[0])
    expect(shardFor(b!, 4)).not.toBe(shardFor(a!, 4))
    const failed = (identifier: string) =>
      ({ eventType: 'login_failed', outcome: 'failure', reason: 'invalid_credentials', origin, identifier, metadata: { failed_attempts: 1, locked_until: null } }) as const
    await expect(db.sql.begin((tx) => recordEvents(tx, tenant, [failed(a!), failed(b!)], { now }))).rejects.toThrow('events recorded together must belong to one chain')
    const locked = { eventType: 'account_locked', outcome: 'failure', reason: 'too_many_failures', origin, identifier: a, metadata: { failed_attempts: -1, locked_until: now.toISOString(), lockout_count: 1, lock_duration_seconds: 60 } } as never
    await expect(db.sql.begin((tx) => recordEvents(tx, tenant, [locked], { now }))).rejects.toThrow(/^account_locked event does not match its definition: metadata\.failed_attempts: /)
    const [head] = await db.sql`SELECT sum(seq)::int AS n FROM chain_heads WHERE tenant_id = ${tenant.id}`
    expect(head!.n).toBe(0)
    const [recorded] = await db.sql.begin((tx) => recordEvents(tx, tenant, [failed(a!)], { now }))
    expect(recorded!.risk).toEqual({ score: 0, signals: [] })
  })
})
