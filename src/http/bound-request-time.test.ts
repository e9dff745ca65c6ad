import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { assertBeforeRequestDeadline, trackWrite } from '../db/request-deadline.ts'
import type { ApiError } from '../errors/codes.ts'
import type { AppEnv } from './app-env.ts'
import { boundRequestTime } from './bound-request-time.ts'

/** An app bounded at 1,000 ms (margin 250 ms) whose route runs `handle`; errors answer with their code. */
function appWith(handle: () => Promise<string>) {
  const app = new Hono<AppEnv>()
  app.use('*', boundRequestTime(1_000))
  app.get('/', async (c) => c.text(await handle()))
  app.onError((error, c) => c.text((error as ApiError).code ?? String(error), 503))
  return app
}

/** A promise settled from outside, standing for a statement sent to a database that has not answered. */
function pending<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** Answers `request`, recording at which fake time it settled. */
function timed(request: Response | Promise<Response>) {
  const outcome: { at?: number; response?: Response } = {}
  void Promise.resolve(request).then((response) => Object.assign(outcome, { at: Date.now(), response }))
  return outcome
}

describe('boundRequestTime', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }))
  afterEach(() => vi.useRealTimers())

  it('answers 503 when the bound passes with no write in flight, and a transaction then begun refuses to start', async () => {
    const read = pending<string>()
    let refusedAfterwards = false
    const app = appWith(async () => {
      const value = await read.promise
      try {
        assertBeforeRequestDeadline()
      } catch {
        refusedAfterwards = true
      }
      return value
    })
    const outcome = timed(app.request('/'))
    await vi.advanceTimersByTimeAsync(999)
    expect(outcome.response).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(outcome.at).toBe(1_000)
    expect(outcome.response?.status).toBe(503)
    read.resolve('late')
    await vi.advanceTimersByTimeAsync(0)
    expect(refusedAfterwards).toBe(true)
  })

  it('waits for a write in flight when the bound passes, and answers what the write decided', async () => {
    const write = pending<string>()
    const app = appWith(() => trackWrite(write.promise))
    const outcome = timed(app.request('/'))
    await vi.advanceTimersByTimeAsync(1_100)
    expect(outcome.response).toBeUndefined()
    write.resolve('recorded')
    await vi.advanceTimersByTimeAsync(0)
    expect(outcome.at).toBe(1_100)
    expect(outcome.response?.status).toBe(200)
    expect(await outcome.response?.text()).toBe('recorded')
  })

  it('answers 503 a margin after the bound when a write in flight never answers (a stalled database)', async () => {
    const app = appWith(() => trackWrite(pending<string>().promise))
    const outcome = timed(app.request('/'))
    await vi.advanceTimersByTimeAsync(1_249)
    expect(outcome.response).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(outcome.at).toBe(1_250)
    expect(outcome.response?.status).toBe(503)
  })

  it('gives a write begun after the bound (finding out whether a lost commit stood) the wait it asks for', async () => {
    const lookup = pending<string>()
    const app = appWith(async () => {
      await trackWrite(new Promise((_, reject) => setTimeout(() => reject(new Error('connection lost')), 1_200))).catch(() => null)
      return trackWrite(lookup.promise, 1_000)
    })
    const outcome = timed(app.request('/'))
    await vi.advanceTimersByTimeAsync(2_199)
    expect(outcome.response).toBeUndefined()
    lookup.resolve('recorded')
    await vi.advanceTimersByTimeAsync(0)
    expect(outcome.at).toBe(2_199)
    expect(await outcome.response?.text()).toBe('recorded')
  })

  it('does not wait for a write that settled before the bound', async () => {
    const read = pending<string>()
    const app = appWith(async () => {
      await trackWrite(Promise.resolve('written'))
      return read.promise
    })
    const outcome = timed(app.request('/'))
    await vi.advanceTimersByTimeAsync(1_000)
    expect(outcome.at).toBe(1_000)
    expect(outcome.response?.status).toBe(503)
  })
})
