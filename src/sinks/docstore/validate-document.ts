import type { BsonSchema, BsonTypeName } from './mongo-schema.ts'

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

/**
 * The BSON type the official driver would write for a JavaScript value: integral numbers in int32 range
 * become `int`, other numbers (and -0) `double`, bigints `long`.
 */
export function bsonTypeOf(value: unknown): BsonTypeName | 'undefined' | 'unsupported' {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'string') return 'string'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'bigint') return 'long'
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX && !Object.is(value, -0) ? 'int' : 'double'
  }
  if (value instanceof Date) return 'date'
  if (value instanceof Uint8Array) return 'binData'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'object') return 'object'
  return 'unsupported'
}

const NUMERIC: readonly BsonTypeName[] = ['int', 'long', 'double', 'decimal']

function matchesType(actual: string, expected: BsonTypeName | readonly BsonTypeName[]): boolean {
  const wanted = typeof expected === 'string' ? [expected] : expected
  return wanted.some((t) => t === actual || (t === 'number' && NUMERIC.includes(actual as BsonTypeName)))
}

/**
 * Checks a document against a `$jsonSchema` the way MongoDB's validator would, for the keywords
 * {@link BsonSchema} allows. The in-memory store runs the very validator the MongoDB adapter installs, so
 * the two cannot drift apart. Returns the problems found, empty when the document is valid.
 *
 * @example
 * validateDocument({ a: 1 }, { bsonType: 'object', required: ['b'] }) // ['b: is required']
 */
export function validateDocument(value: unknown, schema: BsonSchema, path = ''): string[] {
  const at = path === '' ? '(document)' : path
  const type = bsonTypeOf(value)
  if (schema.bsonType !== undefined && !matchesType(type, schema.bsonType)) {
    return [`${at}: expected ${[schema.bsonType].flat().join(' or ')}, got ${type}`]
  }
  const problems: string[] = []
  if (schema.enum !== undefined && !schema.enum.some((allowed) => allowed === value)) problems.push(`${at}: not one of the allowed values`)
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && [...value].length < schema.minLength) problems.push(`${at}: shorter than ${schema.minLength}`)
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) problems.push(`${at}: does not match ${schema.pattern}`)
  }
  if (typeof value === 'number' || typeof value === 'bigint') {
    const n = Number(value)
    if (schema.minimum !== undefined && n < schema.minimum) problems.push(`${at}: below ${schema.minimum}`)
    if (schema.maximum !== undefined && n > schema.maximum) problems.push(`${at}: above ${schema.maximum}`)
    if (schema.multipleOf !== undefined && n % schema.multipleOf !== 0) problems.push(`${at}: not a multiple of ${schema.multipleOf}`)
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, i) => problems.push(...validateDocument(item, schema.items!, `${path}[${i}]`)))
  }
  if (type === 'object') {
    const record = value as Record<string, unknown>
    const child = (key: string) => (path === '' ? key : `${path}.${key}`)
    for (const key of schema.required ?? []) {
      if (!Object.hasOwn(record, key) || record[key] === undefined) problems.push(`${child(key)}: is required`)
    }
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (Object.hasOwn(record, key) && record[key] !== undefined) problems.push(...validateDocument(record[key], sub, child(key)))
    }
  }
  return problems
}
