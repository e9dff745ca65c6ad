import { InvalidArgumentError } from 'commander'
import { SYSTEM_ACTOR, type AdminActor } from '../admin/admin-actor.ts'
import { findOperatorByToken } from '../admin/platform-operators.ts'
import { ConfigError, loadEnv, type Env } from '../config/env.ts'
import type { Sql } from '../db/client.ts'
import { findTenantById, findTenantBySlug, type Tenant } from '../db/tenants.ts'
import { UNATTRIBUTED_TENANT_ID } from '../core/tenancy.ts'
import { usageError } from './exit-codes.ts'
import { openDatabase, withDatabase, type CommandDatabase } from './open-database.ts'

/** What an action returns: its exit code, or `running` for a command that serves until it is stopped. */
export type ActionResult = number | 'running'

/** The environment every command but `migrate` reads: the service's own, validated the same way. */
export function commandEnv(): Env {
  return loadEnv(process.env)
}

/** Runs `fn` on DATABASE_URL's server, or on the embedded database in development. */
export function withCommandDatabase<T>(env: Env, fn: (db: CommandDatabase) => Promise<T>, url = { variable: 'DATABASE_URL', value: env.DATABASE_URL }): Promise<T> {
  return withDatabase(() => openDatabase(env, url), fn)
}

/**
 * Who the command acts as, as its audit events record it: the platform operator whose credential is in
 * AUTHTRAIL_OPERATOR_TOKEN (actor kind `operator`, their id as actor), or else the service itself (kind
 * `service`). Either way the channel is `system`: the change came through the command, not the API.
 */
export async function commandActor(sql: Sql): Promise<AdminActor> {
  const token = process.env.AUTHTRAIL_OPERATOR_TOKEN
  if (token === undefined || token === '') return SYSTEM_ACTOR
  const operator = await findOperatorByToken(sql, token)
  if (!operator) throw new ConfigError('invalid configuration:\n  AUTHTRAIL_OPERATOR_TOKEN: no active platform operator holds this credential')
  return { userId: operator.id, organisationId: null, origin: SYSTEM_ACTOR.origin, kind: 'operator' }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True for a UUID (a tenant's or user's id), false for a slug or identifier. */
export function isUuid(text: string): boolean {
  return UUID.test(text)
}

/** The tenant a slug or id names; an unknown one is a usage error (exit 2). */
export async function tenantNamed(sql: Sql, name: string): Promise<Tenant> {
  const tenant = isUuid(name) ? (name === UNATTRIBUTED_TENANT_ID ? null : await findTenantById(sql, name)) : await findTenantBySlug(sql, name)
  if (!tenant) throw usageError(`unknown tenant ${name}`)
  return tenant
}

/** Prints a command's result: the JSON document with --json, else the lines for a person. */
export function emit(json: boolean | undefined, value: unknown, lines: readonly string[]): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : lines.map((l) => `${l}\n`).join(''))
}

/** Argument parsers: a bad value is a usage error naming the option (commander prints it, exit 2). */
export function integerFrom(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`)
    return n
  }
}

/** An ISO 8601 instant with its zone: `2026-12-01T00:00:00Z`, or a date `2026-12-01` (UTC midnight). */
export function instant(value: string): Date {
  const date = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? new Date(value) : new Date(Number.NaN)
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('must be an ISO 8601 instant with its zone (2026-12-01T00:00:00Z) or a date (2026-12-01).')
  return date
}

export function uuid(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError('must be a UUID.')
  return value.toLowerCase()
}

/** For repeatable options. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}
