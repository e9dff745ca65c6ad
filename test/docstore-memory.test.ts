import { describe, expect, it } from 'vitest'
import { PermanentSinkError } from '../src/sinks/event-sink.ts'
import { createDocumentStoreSink } from '../src/sinks/docstore/docstore-sink.ts'
import { createMemoryDocumentStore } from '../src/sinks/docstore/memory-store.ts'
import type { ChainedEvent } from '../src/core/auth-event.ts'
import { describeDocumentStoreContract } from './support/docstore-contract.ts'
import { makeChain, payloads } from './support/docstore-fixtures.ts'

describeDocumentStoreContract('memory', async () => createMemoryDocumentStore())

describe('memory document store', () => {
  it('hands out copies: mutating a result does not change what is stored', async () => {
    const store = createMemoryDocumentStore()
    const tenant = crypto.randomUUID()
    const chain = makeChain(tenant, 0, [{}])
    await store.upsertEvents(payloads(chain))
    const [doc] = await store.findEvents(tenant)
    doc!.metadata.injected = true
    doc!.occurred_at.setTime(0)
    const [again] = await store.findEvents(tenant)
    expect(again!.metadata).not.toHaveProperty('injected')
    expect(again!.occurred_at.toISOString()).toBe(chain[0]!.occurred_at)
  })
})

describe('createDocumentStoreSink', () => {
  it('is named docstore and delivers idempotently', async () => {
    const store = createMemoryDocumentStore()
    const sink = createDocumentStoreSink(store)
    const tenant = crypto.randomUUID()
    const chain = makeChain(tenant, 0, [{}, {}])
    expect(sink.name).toBe('docstore')
    await sink.deliver(payloads(chain))
    await sink.deliver(payloads(chain))
    expect(await store.listTenantEvents(tenant)).toHaveLength(2)
  })

  it('turns a rejected event into a PermanentSinkError naming it, after writing the rest', async () => {
    const store = createMemoryDocumentStore()
    const sink = createDocumentStoreSink(store)
    const tenant = crypto.randomUUID()
    const chain = makeChain(tenant, 0, [{}, {}])
    const bogus = { ...chain[0]!, channel: 'carrier_pigeon' } as unknown as ChainedEvent
    const error = await sink.deliver(payloads([bogus, chain[1]!])).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PermanentSinkError)
    expect((error as PermanentSinkError).eventId).toBe(bogus.id)
    expect((await store.listTenantEvents(tenant)).map((d) => d._id)).toEqual([chain[1]!.id])
  })

  it('lets any other failure through as transient', async () => {
    const store = createMemoryDocumentStore()
    const failure = new Error('connection reset')
    const sink = createDocumentStoreSink({ ...store, upsertEvents: async () => Promise.reject(failure) })
    await expect(sink.deliver([])).rejects.toBe(failure)
  })
})
