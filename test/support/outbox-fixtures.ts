import { appendAuthEvents } from '../../src/audit/append-events.ts'
import { draftEvent } from '../../src/audit/event-draft.ts'
import type { ChainedEvent } from '../../src/core/auth-event.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { Sql, Tx } from '../../src/db/client.ts'
import { createTenant, type Tenant } from '../../src/db/tenants.ts'

let tenantCounter = 0

/** A tenant without users: enough for chains and outbox rows. */
export function createChainTenant(sql: Sql, shards = 4): Promise<Tenant> {
  return createTenant(sql, { slug: `relay-${process.pid}-${++tenantCounter}-${Math.floor(Math.random() * 1e6)}`, chainShards: shards })
}

/** Appends one login_failed event to a chain inside the caller's transaction, as the login would. */
export function appendTestEvent(tx: Tx, tenant: Tenant, shard: number, identifier = `user-${shard}@example.com`): Promise<ChainedEvent[]> {
  const event = draftEvent({
    id: uuidv7(),
    tenantId: tenant.id,
    retentionDays: tenant.retentionDays,
    now: new Date(),
    eventType: 'login_failed',
    outcome: 'failure',
    origin: { ip: '198.51.100.9', userAgent: 'relay-test', deviceId: null, channel: 'web' },
    identifier,
    reason: 'invalid_credentials',
  })
  return appendAuthEvents(tx, { tenantId: tenant.id, shard }, [event], null)
}

/** Appends `count` events to a chain, one committed transaction each; returns their ids in order. */
export async function appendEvents(sql: Sql, tenant: Tenant, shard: number, count: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const [event] = await sql.begin((tx) => appendTestEvent(tx, tenant, shard))
    ids.push(event!.id)
  }
  return ids
}
