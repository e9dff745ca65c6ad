import type { ChainedEvent } from '../../src/core/auth-event.ts'
import type { Sql, Tx } from '../../src/db/client.ts'
import { createTenant, type Tenant } from '../../src/db/tenants.ts'
import { recordTestEvent, recordTestEvents } from './test-events.ts'

let tenantCounter = 0

/** A tenant without users: enough for chains and outbox rows. */
export function createChainTenant(sql: Sql, shards = 4): Promise<Tenant> {
  return createTenant(sql, { slug: `relay-${process.pid}-${++tenantCounter}-${Math.floor(Math.random() * 1e6)}`, chainShards: shards })
}

const failedLogin = (shard: number, identifier = `user-${shard}@example.com`) =>
  ({ shard, identifier, ip: '198.51.100.9', userAgent: 'relay-test' }) as const

/** Appends one login_failed event to a chain inside the caller's transaction, as the login would. */
export async function appendTestEvent(tx: Tx, tenant: Tenant, shard: number, identifier?: string): Promise<ChainedEvent[]> {
  return [await recordTestEvent(tx, tenant, failedLogin(shard, identifier))]
}

/** Appends `count` events to a chain, one committed transaction each; returns their ids in order. */
export async function appendEvents(sql: Sql, tenant: Tenant, shard: number, count: number): Promise<string[]> {
  const events = await recordTestEvents(sql, tenant, Array.from({ length: count }, () => failedLogin(shard)))
  return events.map((e) => e.id)
}
