import { EVENT_FIELDS, type EventField } from '../../core/auth-event.ts'
import { CHANNELS, EVENT_TYPES, OUTCOMES } from '../../core/event-types.ts'

/** BSON type names as `$jsonSchema` spells them; `number` matches any numeric type. */
export type BsonTypeName = 'string' | 'int' | 'long' | 'double' | 'decimal' | 'number' | 'bool' | 'date' | 'null' | 'object' | 'array' | 'binData'

/** The subset of MongoDB's `$jsonSchema` the validators use (and the in-memory store interprets). */
export interface BsonSchema {
  bsonType?: BsonTypeName | readonly BsonTypeName[]
  required?: readonly string[]
  properties?: Readonly<Record<string, BsonSchema>>
  items?: BsonSchema
  enum?: readonly (string | number | boolean | null)[]
  pattern?: string
  minLength?: number
  minimum?: number
  maximum?: number
  multipleOf?: number
}

/** An index as `createIndexes` takes it. Names are explicit so that a changed definition fails loudly. */
export interface IndexSpec {
  name: string
  key: Readonly<Record<string, 1 | -1>>
  unique?: boolean
  expireAfterSeconds?: number
}

/** One collection's validator and indexes. */
export interface CollectionSpec {
  name: string
  validator: { $jsonSchema: BsonSchema }
  indexes: readonly IndexSpec[]
}

export const EVENTS_COLLECTION = 'auth_events'
export const LOCKOUTS_COLLECTION = 'account_lockouts'

/** Server error codes the adapter acts on. Errors are recognised by code, never by message text. */
export const MONGO_ERROR = {
  namespaceExists: 48,
  documentValidationFailure: 121,
  duplicateKey: 11000,
} as const

const nullableString: BsonSchema = { bsonType: ['string', 'null'] }
const nonEmptyString: BsonSchema = { bsonType: 'string', minLength: 1 }
const hex = (length: number): BsonSchema => ({ bsonType: 'string', pattern: `^[0-9a-f]{${length}}$` })
// Sequence numbers pass int32 eventually and the driver then writes JS numbers as doubles; an integral
// value of any numeric type is accepted.
const positiveInteger: BsonSchema = { bsonType: ['int', 'long', 'double'], minimum: 1, multipleOf: 1 }
const count: BsonSchema = { bsonType: ['int', 'long', 'double'], minimum: 0, multipleOf: 1 }
const shard: BsonSchema = { bsonType: 'int', minimum: 0, maximum: 255 }

/**
 * How the document stores each field of the event definition; the compiler refuses a field without an
 * entry. Instants are BSON dates; enums take their values from the definition.
 */
const EVENT_FIELD_SCHEMAS: Record<Exclude<EventField, 'id'>, BsonSchema> & { _id: BsonSchema } = {
  _id: nonEmptyString,
  tenant_id: nonEmptyString,
  organisation_id: nullableString,
  shard,
  seq: positiveInteger,
  event_type: { bsonType: 'string', enum: EVENT_TYPES },
  channel: { bsonType: 'string', enum: CHANNELS },
  user_id: nullableString,
  identifier: nullableString,
  ip: nullableString,
  user_agent: nullableString,
  device_id: nullableString,
  occurred_at: { bsonType: 'date' },
  outcome: { bsonType: 'string', enum: OUTCOMES },
  reason: nullableString,
  risk: {
    bsonType: 'object',
    required: ['score', 'signals'],
    properties: {
      score: { bsonType: 'number', minimum: 0, maximum: 100 },
      signals: { bsonType: 'array', items: { bsonType: 'string' } },
    },
  },
  metadata: { bsonType: 'object' },
  token_jti: nullableString,
  actor_id: nullableString,
  expires_at: { bsonType: 'date' },
}

/** The chain link every document carries after the event's fields. */
const LINK_SCHEMAS = {
  digests: {
    bsonType: 'object',
    required: ['sha256', 'sha512', 'sha3_256'],
    properties: { sha256: hex(64), sha512: hex(128), sha3_256: hex(64) },
  },
  prev_hash: hex(64),
  chain_hash: hex(64),
} satisfies Record<string, BsonSchema>

const EVENT_DOCUMENT_FIELDS = [...EVENT_FIELDS.map((field) => (field === 'id' ? '_id' : field)), ...Object.keys(LINK_SCHEMAS)]
const documentFieldSchemas: Record<string, BsonSchema> = { ...EVENT_FIELD_SCHEMAS, ...LINK_SCHEMAS }

const eventSchema: BsonSchema = {
  bsonType: 'object',
  required: EVENT_DOCUMENT_FIELDS,
  // No `additionalProperties: false`: during a rolling deploy an older instance re-applies its validator
  // (collMod at start), and a closed schema would then reject the newer instances' documents.
  properties: Object.fromEntries(EVENT_DOCUMENT_FIELDS.map((field) => [field, documentFieldSchemas[field]!])),
}

const lockoutSchema: BsonSchema = {
  bsonType: 'object',
  required: [
    '_id', 'tenant_id', 'identifier', 'user_id', 'failed_login_attempts', 'account_locked_until', 'last_failed_at',
    'lockout_count', 'shard', 'seq',
  ],
  properties: {
    _id: nonEmptyString,
    tenant_id: nonEmptyString,
    identifier: nonEmptyString,
    user_id: nullableString,
    failed_login_attempts: count,
    account_locked_until: { bsonType: ['date', 'null'] },
    last_failed_at: { bsonType: ['date', 'null'] },
    lockout_count: count,
    shard,
    seq: positiveInteger,
  },
}

/**
 * The events collection. Every time-ordered index ends in `_id` so that the newest-first sort
 * (`occurred_at`, `_id`) is read straight off the index instead of sorted in memory.
 */
export const EVENTS_COLLECTION_SPEC: CollectionSpec = {
  name: EVENTS_COLLECTION,
  validator: { $jsonSchema: eventSchema },
  indexes: [
    // expires_at already holds the deadline, so the document expires exactly then (the TTL monitor runs
    // about every 60 s, so deletion lags by up to that much).
    { name: 'auth_events_expires_at_ttl', key: { expires_at: 1 }, expireAfterSeconds: 0 },
    // The same uniqueness as PostgreSQL's auth_logs_chain_position_key: a copy cannot fork a chain.
    { name: 'auth_events_chain_position', key: { tenant_id: 1, shard: 1, seq: 1 }, unique: true },
    // Not in the organisation index's prefix: a tenant-wide time range needs its own.
    { name: 'auth_events_tenant_time', key: { tenant_id: 1, occurred_at: 1, _id: 1 } },
    { name: 'auth_events_tenant_organisation_time', key: { tenant_id: 1, organisation_id: 1, occurred_at: 1, _id: 1 } },
    { name: 'auth_events_tenant_user_time', key: { tenant_id: 1, user_id: 1, occurred_at: 1, _id: 1 } },
    { name: 'auth_events_tenant_ip_time', key: { tenant_id: 1, ip: 1, occurred_at: 1, _id: 1 } },
  ],
}

/** The lockout mirror: looked up by `_id` only, so no secondary index. */
export const LOCKOUTS_COLLECTION_SPEC: CollectionSpec = {
  name: LOCKOUTS_COLLECTION,
  validator: { $jsonSchema: lockoutSchema },
  indexes: [],
}

export const COLLECTION_SPECS: readonly CollectionSpec[] = [EVENTS_COLLECTION_SPEC, LOCKOUTS_COLLECTION_SPEC]

/** Validation options for createCollection and collMod: every write is checked, and a failure is an error. */
export const VALIDATION_OPTIONS = { validationLevel: 'strict', validationAction: 'error' } as const
