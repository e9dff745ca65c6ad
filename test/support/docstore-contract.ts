import { hexToBytes } from '@noble/hashes/utils.js'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ChainedEvent, OutboxPayload } from '../../src/core/auth-event.ts'
import { genesisHash, verifyChainSegment } from '../../src/core/chain.ts'
import { DocumentRejectedError, type DocumentStore } from '../../src/sinks/docstore/document-store.ts'
import { fromEventDocument, toEventDocument } from '../../src/sinks/docstore/event-document.ts'
import { FIXTURE_EPOCH, makeChain, makeLockoutSnapshot, payloads } from './docstore-fixtures.ts'

/** An index as `listIndexes` reports it. */
export interface ListedIndex {
  name?: string
  key: Record<string, unknown>
  unique?: boolean
  expireAfterSeconds?: number
}

export interface DocumentStoreContractOptions {
  /**
   * For stores whose expiry runs in the background (MongoDB's TTL monitor, every 60 s): lists the events
   * collection's indexes of the store last made, so the suite can check the TTL index exists.
   */
  listEventIndexes?: () => Promise<ListedIndex[]>
}

const SECOND = 1000

async function expectRejected(promise: Promise<unknown>): Promise<DocumentRejectedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DocumentRejectedError)
  return error as DocumentRejectedError
}

function verifies(events: readonly ChainedEvent[], tenantId: string, shard: number): boolean {
  const rows = events.map((event) => ({
    event: (({ digests: _d, prev_hash: _p, chain_hash: _c, ...rest }) => rest)(event),
    digestSha256: hexToBytes(event.digests.sha256),
    digestSha512: hexToBytes(event.digests.sha512),
    digestSha3_256: hexToBytes(event.digests.sha3_256),
    prevHash: hexToBytes(event.prev_hash),
    chainHash: hexToBytes(event.chain_hash),
  }))
  return verifyChainSegment(rows, { seq: 0, hash: genesisHash(tenantId, shard) }).ok
}

/**
 * The behaviour every {@link DocumentStore} must show. `makeStore` returns a store of its own (a fresh
 * database where that matters); the suite calls `ensureSchema` before and `close` after each test, and gives
 * every test fresh tenant ids.
 *
 * @example
 * describeDocumentStoreContract('memory', async () => createMemoryDocumentStore())
 */
export function describeDocumentStoreContract(
  name: string,
  makeStore: () => Promise<DocumentStore>,
  options: DocumentStoreContractOptions = {},
): void {
  describe(`DocumentStore contract: ${name}`, () => {
    let store: DocumentStore
    let tenant: string

    beforeEach(async () => {
      store = await makeStore()
      await store.ensureSchema()
      tenant = crypto.randomUUID()
    })
    afterEach(async () => {
      await store.close()
    })

    it('ensureSchema can run again on a store that already has its schema and data', async () => {
      const chain = makeChain(tenant, 0, [{}])
      await store.upsertEvents(payloads(chain))
      await store.ensureSchema()
      await store.ensureSchema()
      expect(await store.listTenantEvents(tenant)).toHaveLength(1)
    })

    it('stores each event once however often its batch is delivered', async () => {
      const chain = makeChain(tenant, 3, [{}, {}, {}])
      await store.upsertEvents(payloads(chain))
      await store.upsertEvents(payloads(chain))
      await store.upsertEvents([...payloads(chain), ...payloads(chain.slice(1))])
      const stored = await store.listTenantEvents(tenant)
      expect(stored.map((d) => d._id)).toEqual(chain.map((e) => e.id))
    })

    it('round-trips every field: dates as Date, digests and links unchanged, the chain still verifies', async () => {
      const chain = makeChain(tenant, 1, [{}, { event_type: 'login_success', outcome: 'success', reason: null, metadata: {} }])
      await store.upsertEvents(payloads(chain))
      const stored = await store.listTenantEvents(tenant)
      expect(stored).toEqual(chain.map(toEventDocument))
      expect(stored[0]!.occurred_at).toBeInstanceOf(Date)
      expect(stored[0]!.expires_at).toBeInstanceOf(Date)
      expect(stored[0]!.expires_at.toISOString()).toBe(chain[0]!.expires_at)
      const back = stored.map(fromEventDocument)
      expect(back).toEqual(chain)
      expect(verifies(back, tenant, 1)).toBe(true)
    })

    it('restores a copy when its event is delivered again', async () => {
      const [event] = makeChain(tenant, 0, [{}])
      await store.upsertEvents(payloads([event!]))
      const tampered = { ...event!, reason: 'tampered' }
      await store.upsertEvents(payloads([tampered]))
      expect((await store.listTenantEvents(tenant))[0]!.reason).toBe('tampered')
      await store.upsertEvents(payloads([event!]))
      expect((await store.listTenantEvents(tenant))[0]!.reason).toBe(event!.reason)
    })

    it('finds events newest first, filtered by time range, organisation, user and ip, with a limit', async () => {
      const org = crypto.randomUUID()
      const user = crypto.randomUUID()
      const chain = makeChain(tenant, 0, [
        { organisation_id: org, user_id: user, ip: '198.51.100.1' },
        { organisation_id: org, user_id: null, ip: '198.51.100.2' },
        { user_id: user, ip: '198.51.100.1' },
        { user_id: user, ip: '2001:db8::1' },
      ])
      await store.upsertEvents(payloads(chain))
      const ids = async (query: Parameters<DocumentStore['findEvents']>[1]) => (await store.findEvents(tenant, query)).map((d) => d._id)
      const [e1, e2, e3, e4] = chain.map((e) => e.id)
      expect(await ids({})).toEqual([e4, e3, e2, e1])
      expect(await ids({ organisationId: org })).toEqual([e2, e1])
      expect(await ids({ userId: user })).toEqual([e4, e3, e1])
      expect(await ids({ ip: '198.51.100.1' })).toEqual([e3, e1])
      expect(await ids({ userId: user, ip: '2001:db8::1' })).toEqual([e4])
      const t = FIXTURE_EPOCH.getTime()
      expect(await ids({ from: new Date(t + SECOND), to: new Date(t + 3 * SECOND) })).toEqual([e3, e2])
      expect(await ids({ limit: 2 })).toEqual([e4, e3])
      await expect(store.findEvents(tenant, { limit: 0 })).rejects.toThrow(RangeError)
    })

    it('breaks ties in occurred_at by _id, descending', async () => {
      const at = FIXTURE_EPOCH.toISOString()
      const chain = makeChain(tenant, 0, [{ occurred_at: at }, { occurred_at: at }, { occurred_at: at }])
      await store.upsertEvents(payloads(chain))
      const expected = chain.map((e) => e.id).sort().reverse()
      expect((await store.findEvents(tenant)).map((d) => d._id)).toEqual(expected)
    })

    it('lists a tenant chain by shard and seq, optionally one shard and a seq range', async () => {
      const shard2 = makeChain(tenant, 2, [{}, {}, {}])
      const shard0 = makeChain(tenant, 0, [{}, {}])
      await store.upsertEvents(payloads([...shard2, ...shard0].reverse()))
      const positions = (docs: { shard: number; seq: number }[]) => docs.map((d) => [d.shard, d.seq])
      expect(positions(await store.listTenantEvents(tenant))).toEqual([[0, 1], [0, 2], [2, 1], [2, 2], [2, 3]])
      expect(positions(await store.listTenantEvents(tenant, { shard: 2, fromSeq: 2 }))).toEqual([[2, 2], [2, 3]])
      expect(positions(await store.listTenantEvents(tenant, { shard: 2, toSeq: 1 }))).toEqual([[2, 1]])
    })

    it('keeps tenants apart in every read', async () => {
      const other = crypto.randomUUID()
      const mine = makeChain(tenant, 0, [{}])
      const theirs = makeChain(other, 0, [{ user_id: mine[0]!.user_id, ip: mine[0]!.ip }])
      await store.upsertEvents([
        { event: mine[0]!, lockout: makeLockoutSnapshot(mine[0]!) },
        { event: theirs[0]!, lockout: null },
      ])
      expect((await store.findEvents(other, { userId: mine[0]!.user_id! })).map((d) => d._id)).toEqual([theirs[0]!.id])
      expect((await store.findEvents(other, { ip: mine[0]!.ip! })).map((d) => d._id)).toEqual([theirs[0]!.id])
      expect((await store.listTenantEvents(other)).map((d) => d._id)).toEqual([theirs[0]!.id])
      expect(await store.getLockout(other, mine[0]!.identifier!)).toBeNull()
      expect(await store.getLockout(tenant, mine[0]!.identifier!)).not.toBeNull()
    })

    it('removes expired events (what the TTL monitor does) and leaves the rest', async () => {
      const t = FIXTURE_EPOCH.getTime()
      const chain = makeChain(tenant, 0, [
        { expires_at: new Date(t + 10 * SECOND).toISOString() },
        { expires_at: new Date(t + 20 * SECOND).toISOString() },
        { expires_at: new Date(t + 30 * SECOND).toISOString() },
      ])
      await store.upsertEvents(payloads(chain))
      expect((await store.findEvents(tenant, { now: new Date(t + 20 * SECOND) })).map((d) => d._id)).toEqual([chain[2]!.id])
      expect(await store.removeExpired(new Date(t + 20 * SECOND))).toBe(2)
      expect((await store.listTenantEvents(tenant)).map((d) => d._id)).toEqual([chain[2]!.id])
      expect(await store.removeExpired(new Date(t + 20 * SECOND))).toBe(0)
    })

    if (options.listEventIndexes !== undefined) {
      const listEventIndexes = options.listEventIndexes
      it('has a TTL index on expires_at that expires documents at that instant', async () => {
        const indexes = await listEventIndexes()
        const ttl = indexes.filter((i) => i.expireAfterSeconds !== undefined)
        expect(ttl).toHaveLength(1)
        expect(ttl[0]!.key).toEqual({ expires_at: 1 })
        expect(ttl[0]!.expireAfterSeconds).toBe(0)
        expect(indexes.find((i) => i.unique === true)?.key).toEqual({ tenant_id: 1, shard: 1, seq: 1 })
      })
    }

    describe('lockout mirror', () => {
      const snapshotFor = (chain: ChainedEvent[], seq: number, shard?: number): OutboxPayload => {
        const event = chain[seq - 1]!
        return { event, lockout: makeLockoutSnapshot(event, { failed_login_attempts: seq, ...(shard === undefined ? {} : { shard }) }) }
      }

      it('mirrors a snapshot with its dates as Date', async () => {
        const chain = makeChain(tenant, 4, [{}])
        const lockedUntil = new Date(FIXTURE_EPOCH.getTime() + 300 * SECOND)
        const lockout = makeLockoutSnapshot(chain[0]!, { account_locked_until: lockedUntil.toISOString(), lockout_count: 1 })
        await store.upsertEvents([{ event: chain[0]!, lockout }])
        expect(await store.getLockout(tenant, lockout.identifier)).toEqual({
          _id: `${tenant}:${lockout.identifier}`,
          tenant_id: tenant,
          identifier: lockout.identifier,
          user_id: lockout.user_id,
          failed_login_attempts: 1,
          account_locked_until: lockedUntil,
          last_failed_at: new Date(chain[0]!.occurred_at),
          lockout_count: 1,
          shard: 4,
          seq: 1,
        })
      })

      it('never lets an older snapshot overwrite a newer one', async () => {
        const chain = makeChain(tenant, 0, [{}, {}, {}, {}, {}])
        await store.upsertEvents([snapshotFor(chain, 5)])
        await store.upsertEvents([snapshotFor(chain, 3)])
        const identifier = chain[0]!.identifier!
        expect((await store.getLockout(tenant, identifier))?.seq).toBe(5)
        await store.upsertEvents([snapshotFor(chain, 1), snapshotFor(chain, 2)])
        expect((await store.getLockout(tenant, identifier))?.seq).toBe(5)
      })

      it('treats a replay of the same seq as a no-op', async () => {
        const chain = makeChain(tenant, 0, [{}, {}])
        await store.upsertEvents([snapshotFor(chain, 2)])
        const replay = snapshotFor(chain, 2)
        await store.upsertEvents([{ event: replay.event, lockout: { ...replay.lockout!, failed_login_attempts: 99 } }])
        expect((await store.getLockout(tenant, chain[0]!.identifier!))?.failed_login_attempts).toBe(2)
      })

      it('applies newer snapshots, and the newest of a batch whatever its order', async () => {
        const chain = makeChain(tenant, 0, [{}, {}, {}, {}])
        const identifier = chain[0]!.identifier!
        await store.upsertEvents([snapshotFor(chain, 1)])
        await store.upsertEvents([snapshotFor(chain, 2)])
        expect((await store.getLockout(tenant, identifier))?.seq).toBe(2)
        await store.upsertEvents([snapshotFor(chain, 4), snapshotFor(chain, 3)])
        expect((await store.getLockout(tenant, identifier))?.failed_login_attempts).toBe(4)
      })

      it('takes a snapshot from another shard as newer (seqs of different shards do not compare)', async () => {
        const chain = makeChain(tenant, 0, [{}, {}, {}])
        await store.upsertEvents([snapshotFor(chain, 3)])
        await store.upsertEvents([snapshotFor(chain, 1, 7)])
        const stored = await store.getLockout(tenant, chain[0]!.identifier!)
        expect([stored?.shard, stored?.seq]).toEqual([7, 1])
      })
    })

    describe('validation', () => {
      it('rejects an event the schema refuses, names it, and still writes the rest of the batch', async () => {
        const chain = makeChain(tenant, 0, [{}, {}, {}])
        const bogus = { ...chain[1]!, event_type: 'password_sprayed' } as unknown as ChainedEvent
        const error = await expectRejected(store.upsertEvents(payloads([chain[0]!, bogus, chain[2]!])))
        expect(error.rejected.map((r) => r.eventId)).toEqual([bogus.id])
        expect((await store.listTenantEvents(tenant)).map((d) => d._id)).toEqual([chain[0]!.id, chain[2]!.id])
      })

      it('rejects malformed digests', async () => {
        const [event] = makeChain(tenant, 0, [{}])
        const bad = { ...event!, digests: { ...event!.digests, sha512: 'not-hex' } }
        const error = await expectRejected(store.upsertEvents(payloads([bad])))
        expect(error.rejected.map((r) => r.eventId)).toEqual([event!.id])
        expect(await store.listTenantEvents(tenant)).toEqual([])
      })

      it('rejects a timestamp that would not come back as the text that was hashed', async () => {
        const [event] = makeChain(tenant, 0, [{ occurred_at: '2026-11-23T10:00:00+00:00' }])
        const error = await expectRejected(store.upsertEvents(payloads([event!])))
        expect(error.rejected[0]!.eventId).toBe(event!.id)
        expect(error.rejected[0]!.reason).toMatch(/occurred_at/)
      })

      it('rejects a second event at a chain position already held', async () => {
        const [first] = makeChain(tenant, 0, [{}])
        const [impostor] = makeChain(tenant, 0, [{}])
        await store.upsertEvents(payloads([first!]))
        const error = await expectRejected(store.upsertEvents(payloads([impostor!])))
        expect(error.rejected.map((r) => r.eventId)).toEqual([impostor!.id])
        expect((await store.listTenantEvents(tenant)).map((d) => d._id)).toEqual([first!.id])
      })

      it('rejects a lockout snapshot the schema refuses, naming the event that carried it', async () => {
        const [event] = makeChain(tenant, 0, [{}])
        const error = await expectRejected(
          store.upsertEvents([{ event: event!, lockout: makeLockoutSnapshot(event!, { failed_login_attempts: -1 }) }]),
        )
        expect(error.rejected.map((r) => r.eventId)).toEqual([event!.id])
        expect(await store.getLockout(tenant, event!.identifier!)).toBeNull()
        expect(await store.listTenantEvents(tenant)).toHaveLength(1)
      })
    })
  })
}
