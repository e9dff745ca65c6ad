import { describe, expect, it } from 'vitest'
import { AuthEventSchema, EVENT_FIELDS, EVENT_SCHEMAS, RiskSchema } from './auth-event.ts'
import { EVENT_TYPES } from './event-types.ts'
import { outboxPayload } from '../../test/support/outbox-payload.ts'

// The schemas every event is checked against before it is hashed (recordEvents) and from which the
// stored columns, the documents and the OpenAPI schema of investigated events are derived.

// The shared fixture's event without what the chain adds (digests and links): the fields an event is defined by.
const { digests: _digests, prev_hash: _prevHash, chain_hash: _chainHash, ...failedLogin } = outboxPayload({
  shard: 0,
  seq: 1,
  metadata: { failed_attempts: 1, locked_until: null },
}).event

const accepts = (schema: { safeParse: (v: unknown) => { success: boolean } }, value: unknown) => schema.safeParse(value).success

describe('AuthEventSchema', () => {
  it('lists the stored and hashed fields in their definition order', () => {
    expect(EVENT_FIELDS).toEqual([
      'id', 'tenant_id', 'organisation_id', 'shard', 'seq', 'event_type', 'channel', 'user_id', 'identifier', 'ip', 'user_agent',
      'device_id', 'occurred_at', 'outcome', 'reason', 'risk', 'metadata', 'token_jti', 'actor_id', 'expires_at',
    ])
  })

  it('accepts a complete event, and nulls where a field may be absent', () => {
    expect(AuthEventSchema.parse(failedLogin)).toEqual(failedLogin)
    const nulls = { ...failedLogin, organisation_id: null, user_id: null, identifier: null, ip: null, user_agent: null, device_id: null, reason: null, token_jti: null, actor_id: null }
    expect(accepts(AuthEventSchema, nulls)).toBe(true)
  })

  it('refuses each field that is missing, and null where a value is required', () => {
    for (const field of EVENT_FIELDS) {
      const { [field]: _, ...without } = failedLogin
      expect(accepts(AuthEventSchema, without), field).toBe(false)
    }
    for (const field of ['id', 'tenant_id', 'shard', 'seq', 'event_type', 'channel', 'occurred_at', 'outcome', 'risk', 'metadata', 'expires_at']) {
      expect(accepts(AuthEventSchema, { ...failedLogin, [field]: null }), field).toBe(false)
    }
  })

  it('refuses an id that is no UUID, a position that is no integer, and unknown types, channels and outcomes', () => {
    for (const change of [
      { id: 'not-a-uuid' },
      { shard: 0.5 },
      { seq: 1.5 },
      { seq: '1' },
      { event_type: 'login_exploded' },
      { channel: 'fax' },
      { outcome: 'maybe' },
      { metadata: [] },
      { tenant_id: 7 },
    ]) {
      expect(accepts(AuthEventSchema, { ...failedLogin, ...change }), JSON.stringify(change)).toBe(false)
    }
    for (const channel of ['web', 'mobile', 'admin', 'system']) expect(accepts(AuthEventSchema, { ...failedLogin, channel }), channel).toBe(true)
  })
})

describe('RiskSchema', () => {
  it('takes a numeric score and a list of named signals, nothing else', () => {
    expect(RiskSchema.parse({ score: 70, signals: ['new_device'] })).toEqual({ score: 70, signals: ['new_device'] })
    expect(accepts(RiskSchema, { score: '70', signals: [] })).toBe(false)
    expect(accepts(RiskSchema, { score: 70, signals: [1] })).toBe(false)
    expect(accepts(RiskSchema, { score: 70 })).toBe(false)
    expect(accepts(RiskSchema, { signals: [] })).toBe(false)
  })
})

describe('EVENT_SCHEMAS', () => {
  it('has one schema per event type, each fixing its event_type', () => {
    expect(Object.keys(EVENT_SCHEMAS)).toEqual([...EVENT_TYPES])
    expect(accepts(EVENT_SCHEMAS.login_failed, failedLogin)).toBe(true)
    expect(accepts(EVENT_SCHEMAS.account_locked, failedLogin)).toBe(false)
  })

  it("checks a type's outcome, reason and metadata as its catalog entry defines them", () => {
    const schema = EVENT_SCHEMAS.login_failed
    expect(accepts(schema, { ...failedLogin, outcome: 'success' })).toBe(false)
    expect(accepts(schema, { ...failedLogin, reason: 'lockout_expired' })).toBe(false)
    expect(accepts(schema, { ...failedLogin, metadata: { failed_attempts: -1, locked_until: null } })).toBe(false)
    expect(accepts(schema, { ...failedLogin, metadata: { failed_attempts: 1, locked_until: null, password: 'x' } })).toBe(false)
    const success = {
      ...failedLogin,
      event_type: 'login_success',
      outcome: 'success',
      reason: null,
      metadata: { token_expires_at: '2026-11-23T11:00:00.000Z' },
    }
    expect(accepts(EVENT_SCHEMAS.login_success, success)).toBe(true)
    expect(accepts(EVENT_SCHEMAS.login_success, { ...success, reason: 'invalid_credentials' })).toBe(false)
    expect(accepts(EVENT_SCHEMAS.login_success, { ...success, outcome: 'failure' })).toBe(false)
  })

  it('keeps the common fields of every event', () => {
    for (const type of EVENT_TYPES) {
      expect(Object.keys(EVENT_SCHEMAS[type].shape), type).toEqual(EVENT_FIELDS)
      expect(accepts(EVENT_SCHEMAS[type], { ...failedLogin, event_type: type, id: 'not-a-uuid' }), type).toBe(false)
    }
  })

  it('reads the shared parts of the catalog: refused requests, actors, roles and changed settings', () => {
    const event = (type: string, outcome: string, reason: string | null, metadata: Record<string, unknown>) => ({ ...failedLogin, event_type: type, outcome, reason, metadata })
    const refused = event('registration_failed', 'failure', 'invalid_request', { problem_code: 'invalid_request', invalid_fields: ['password'] })
    expect(accepts(EVENT_SCHEMAS.registration_failed, refused)).toBe(true)
    expect(accepts(EVENT_SCHEMAS.registration_failed, { ...refused, reason: 'unknown_tenant', metadata: { problem_code: 'unknown_tenant', invalid_fields: [], attempted_tenant: 'nope' } })).toBe(true)
    expect(accepts(EVENT_SCHEMAS.registration_failed, { ...refused, metadata: { problem_code: 'invalid_request', invalid_fields: ['password'], password: 'x' } })).toBe(false)

    for (const actor_kind of ['operator', 'admin', 'service']) {
      const settings = event('tenant_settings_changed', 'success', null, {
        actor_kind,
        changes: { name: { from: 'Acme', to: 'Acme Ltd' }, allowed_origins: { from: [], to: ['https://acme.test'] } },
      })
      expect(accepts(EVENT_SCHEMAS.tenant_settings_changed, settings), actor_kind).toBe(true)
    }
    const plan = (changes: unknown) => event('tenant_plan_changed', 'success', null, { actor_kind: 'operator', changes })
    expect(accepts(EVENT_SCHEMAS.tenant_plan_changed, plan({ retention_days: { from: 30, to: 90 }, can_download: { from: false, to: true } }))).toBe(true)
    expect(accepts(EVENT_SCHEMAS.tenant_plan_changed, plan({ retention_days: { from: 30 } }))).toBe(false)
    expect(accepts(EVENT_SCHEMAS.tenant_plan_changed, plan({ colour: { from: 'red', to: 'blue' } }))).toBe(false)
    expect(accepts(EVENT_SCHEMAS.tenant_settings_changed, event('tenant_settings_changed', 'success', null, { actor_kind: 'intruder', changes: {} }))).toBe(false)

    for (const [from, to] of [['user', 'admin'], ['admin', 'auditor'], ['auditor', 'user']]) {
      expect(accepts(EVENT_SCHEMAS.user_role_changed, event('user_role_changed', 'success', null, { actor_kind: 'admin', from, to })), `${from} → ${to}`).toBe(true)
    }
    expect(accepts(EVENT_SCHEMAS.user_role_changed, event('user_role_changed', 'success', null, { actor_kind: 'admin', from: 'user', to: 'root' }))).toBe(false)
  })
})
