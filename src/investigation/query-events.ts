import { EVENT_FIELDS, type AuthEvent } from '../core/auth-event.ts'
import type { Channel, EventType, Outcome } from '../core/event-types.ts'
import { eventFromRow, type EventColumns } from '../audit/stored-event.ts'
import type { Sql } from '../db/client.ts'
import type { AddressFilter } from './address-filter.ts'
import { organisationClause } from '../db/organisation-clause.ts'
import type { TenantScope } from '../core/tenancy.ts'

export type EventOrder = 'newest' | 'oldest'

/** Filters of the events query; every one is optional and they combine with AND. */
export interface EventFilter {
  userId?: string
  /** Already normalised (see normalizeIdentifier). */
  identifier?: string
  address?: AddressFilter
  eventTypes?: readonly EventType[]
  channel?: Channel
  outcome?: Outcome
  /** Inclusive. */
  from?: Date
  /** Exclusive. */
  to?: Date
}

export interface EventPageRequest {
  order: EventOrder
  limit: number
  /** The `next_cursor` of the previous page, or null for the first page. */
  cursor?: string | null
}

/** An event as the investigation API shows it: the canonical fields (the tenant is the caller's) and its chain hash. */
export type InvestigatedEvent = Omit<AuthEvent, 'tenant_id'> & { chain_hash: string }

export interface EventPage {
  events: InvestigatedEvent[]
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null
}

/** The cursor is not one this query produced (tampered, or from a query with another order). */
export class InvalidCursorError extends Error {
  constructor() {
    super('the cursor is not valid for this query')
  }
}

interface CursorPosition {
  order: EventOrder
  /** occurred_at to the microsecond, UTC, as PostgreSQL printed it: no precision lost in a round trip. */
  time: string
  id: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.order === 'newest' ? 'n' : 'o', position.time, position.id])).toString('base64url')
}

export function decodeCursor(cursor: string, order: EventOrder): CursorPosition {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursorError()
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw new InvalidCursorError()
  const [o, time, id] = parsed as unknown[]
  if (o !== (order === 'newest' ? 'n' : 'o')) throw new InvalidCursorError()
  if (typeof time !== 'string' || !CURSOR_TIME.test(time) || Number.isNaN(Date.parse(time))) throw new InvalidCursorError()
  if (typeof id !== 'string' || !UUID.test(id)) throw new InvalidCursorError()
  return { order, time, id }
}

interface EventRow extends EventColumns {
  chain_hash: Uint8Array
  cursor_time: string
}

/** Selects the columns every investigation listing shows (see eventFromInvestigationRow). */
export const INVESTIGATED_EVENT_COLUMNS = [...EVENT_FIELDS, 'chain_hash']

/** A listed event: the canonical fields (the tenant is the caller's, so left out) and its chain hash. */
export function eventFromInvestigationRow(row: Omit<EventRow, 'cursor_time'>): InvestigatedEvent {
  const { tenant_id: _tenant, ...event } = eventFromRow(row)
  return { ...event, chain_hash: Buffer.from(row.chain_hash).toString('hex') }
}

/**
 * One page of a tenant's events, newest or oldest first, with keyset pagination on (occurred_at, id): a
 * page costs the same at any depth, and events arriving meanwhile never shift or repeat a page. Scoped to
 * the tenant and organisation in SQL.
 *
 * @example
 * const page = await queryEvents(sql, { tenantId, organisationId }, { address: parseAddressFilter('203.0.113.0/24')! }, { order: 'newest', limit: 100 })
 * const next = await queryEvents(sql, scope, filter, { order: 'newest', limit: 100, cursor: page.next_cursor })
 */
export async function queryEvents(sql: Sql, scope: TenantScope, filter: EventFilter, page: EventPageRequest): Promise<EventPage> {
  const after = page.cursor ? decodeCursor(page.cursor, page.order) : null
  const newest = page.order === 'newest'
  const keyset = after
    ? newest
      ? sql`AND (occurred_at, id) < (${after.time}::timestamptz, ${after.id}::uuid)`
      : sql`AND (occurred_at, id) > (${after.time}::timestamptz, ${after.id}::uuid)`
    : sql``
  const rows = await sql<EventRow[]>`
    SELECT ${sql(INVESTIGATED_EVENT_COLUMNS)},
      to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_time
    FROM auth_logs
    WHERE tenant_id = ${scope.tenantId} ${organisationClause(sql, scope)}
      ${eventFilterClauses(sql, filter)}
      ${keyset}
    ORDER BY ${newest ? sql`occurred_at DESC, id DESC` : sql`occurred_at ASC, id ASC`}
    LIMIT ${page.limit + 1}`
  const more = rows.length > page.limit
  const shown = more ? rows.slice(0, page.limit) : rows
  const last = shown[shown.length - 1]
  return {
    events: shown.map(eventFromInvestigationRow),
    next_cursor: more && last ? encodeCursor({ order: page.order, time: last.cursor_time, id: last.id }) : null,
  }
}

/** The filter as SQL conditions over `auth_logs`, each one a bound parameter. */
export function eventFilterClauses(sql: Sql, filter: EventFilter) {
  const address = filter.address
  return sql`
    ${filter.userId !== undefined ? sql`AND user_id = ${filter.userId}` : sql``}
    ${filter.identifier !== undefined ? sql`AND identifier = ${filter.identifier}` : sql``}
    ${address?.kind === 'host' ? sql`AND ip_inet = ${address.address}::inet` : sql``}
    ${address?.kind === 'cidr' ? cidrClause(sql, address.cidr) : sql``}
    ${filter.eventTypes?.length ? sql`AND event_type = ANY(${filter.eventTypes as string[]}::text[])` : sql``}
    ${filter.channel !== undefined ? sql`AND channel = ${filter.channel}` : sql``}
    ${filter.outcome !== undefined ? sql`AND outcome = ${filter.outcome}` : sql``}
    ${filter.from !== undefined ? sql`AND occurred_at >= ${filter.from}` : sql``}
    ${filter.to !== undefined ? sql`AND occurred_at < ${filter.to}` : sql``}`
}

/**
 * `<<=` alone is not an index condition once the CIDR is a bound parameter (the planner's rewrite into a
 * btree range needs a constant), so the range is spelled out: from the network address to the last
 * address of the block, as host addresses (masklen 32 or 128) like the stored ones.
 */
function cidrClause(sql: Sql, cidr: string) {
  return sql`
    AND ip_inet >= network(${cidr}::inet)
    AND ip_inet <= set_masklen(broadcast(${cidr}::inet), CASE family(${cidr}::inet) WHEN 4 THEN 32 ELSE 128 END)
    AND ip_inet <<= ${cidr}::inet`
}
