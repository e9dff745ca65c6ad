import { describe, expect, it } from 'vitest'
import { checkpointDueChains } from '../src/audit/checkpoint-chain-heads.ts'
import { loadCheckpointKeys } from '../src/audit/checkpoint-keys.ts'
import { runVerifyChain } from '../src/cli/verify-chain-command.ts'
import { createOverviewFeed } from '../src/monitoring/overview-feed.ts'
import { TEST_CHECKPOINT_SIGNING_KEY } from './support/checkpoint-key.ts'
import type { TenantScope } from '../src/core/tenancy.ts'
import { createOrganisation, createUser } from '../src/db/tenants.ts'
import { useTestDatabase } from './support/database.ts'
import { bearerFor, getWith, postJson, TEST_HASHER, useSeededTenant, useTestApp } from './support/test-app.ts'
import { until } from './support/until.ts'

const db = useTestDatabase('console_monitoring')
const t = useTestApp(db)
const POLICY = { maxFailures: 3, windowSeconds: 900, baseLockSeconds: 600, multiplier: 2, maxLockSeconds: 3600 }
const acme = useSeededTenant(db, {
  slug: 'acme',
  lockoutPolicy: POLICY,
  users: [{ identifier: 'alice@acme.test' }, { identifier: 'auditor@acme.test', role: 'auditor' }, { identifier: 'admin@acme.test', role: 'admin' }],
})
const globex = useSeededTenant(db, { slug: 'globex', users: [{ identifier: 'auditor@globex.test', role: 'auditor' }] })

type Overview = {
  tenant: { slug: string; can_download: boolean }
  totals: { attempts: number; failures: number; successes: number; lockouts: number }
  minutes: { attempts: number }[]
  channels: { channel: string; attempts: number }[]
  locked_accounts: { count: number; accounts: { identifier: string }[] }
  recent_events: { event_id: string; identifier: string | null }[]
  relay: { sinks: unknown[] }
  chain: {
    shards: number
    events: number
    last_checkpoint: { signed_at: string; key_id: string; shard: number; seq: number } | null
    last_verification: { verified_at: string; ok: boolean; verified_events: number; via: string; verified_by: { user_id: string; identifier: string | null } | null } | null
  }
}

const login = (identifier: string, password: string, ip = '198.51.100.9', channel: 'web' | 'mobile' = 'web') =>
  postJson(t.app, channel === 'web' ? '/v1/auth/login' : '/v1/mobile/auth/login', { tenant: 'acme', identifier, password, ...(channel === 'mobile' && { device_id: 'd-1' }) }, { 'x-forwarded-for': ip })

async function overviewAs(authorization: string): Promise<Overview> {
  const res = await getWith(t.app, '/v1/monitoring/overview', authorization)
  expect(res.status).toBe(200)
  return (await res.json()) as Overview
}

/** Reads `overview` events from an SSE response body until `stop` says enough. */
async function readEvents(res: Response, stop: (events: Overview[]) => boolean, timeoutMs = 20_000): Promise<Overview[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  const events: Overview[] = []
  let buffer = ''
  const deadline = Date.now() + timeoutMs
  while (!stop(events)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${events.length} events`)
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
      if (block.includes('event: overview')) events.push(JSON.parse(data) as Overview)
    }
  }
  await reader.cancel()
  return events
}

describe('live overview (GET /v1/monitoring/overview and its event stream)', () => {
  it('counts attempts per minute and per channel, lists locked accounts and the latest attempts, within the tenant', async () => {
    const alice = acme.users['alice@acme.test']!
    expect((await login(alice.identifier, alice.password)).status).toBe(200)
    expect((await login(alice.identifier, alice.password, '198.51.100.10', 'mobile')).status).toBe(200)
    for (let i = 0; i < POLICY.maxFailures; i++) await login('mallory@acme.test', `wrong-${i}`, '203.0.113.66')
    const overview = await overviewAs(await bearerFor(t.tokens, acme, 'auditor@acme.test'))
    expect(overview.tenant).toMatchObject({ slug: 'acme' })
    expect(overview.minutes).toHaveLength(60)
    expect(overview.totals).toMatchObject({ attempts: 5, successes: 2, failures: 3, lockouts: 1 })
    expect(overview.minutes.reduce((n, m) => n + m.attempts, 0)).toBe(5)
    expect(overview.channels).toEqual([
      { channel: 'web', attempts: 4, failures: 3, successes: 1 },
      { channel: 'mobile', attempts: 1, failures: 0, successes: 1 },
    ])
    expect(overview.locked_accounts.count).toBe(1)
    expect(overview.locked_accounts.accounts[0]!.identifier).toBe('mallory@acme.test')
    expect(overview.recent_events.map((e) => e.identifier)).toContain('alice@acme.test')
    expect(overview.chain.events).toBeGreaterThanOrEqual(6)

    // Another tenant's auditor sees none of it.
    const other = await overviewAs(await bearerFor(t.tokens, globex, 'auditor@globex.test'))
    expect(other.totals).toMatchObject({ attempts: 0, lockouts: 0 })
    expect(other.locked_accounts.count).toBe(0)
    expect(other.recent_events).toEqual([])
    expect(other.chain.events).toBe(0)
  })

  it('keeps another organisation of the same tenant out of the events and lockouts, as the investigation API does', async () => {
    const org = await createOrganisation(db.sql, acme.tenant.id, 'acme-other')
    const { id } = await createUser(db.sql, { tenantId: acme.tenant.id, organisationId: org.id, identifier: 'auditor@other.test', passwordHash: await TEST_HASHER.hash('x'.repeat(16)), role: 'auditor' })
    const iat = Math.floor(Date.now() / 1000)
    const token = await t.tokens.issue({ sub: id, tid: acme.tenant.id, org: org.id, role: 'auditor', jti: crypto.randomUUID(), iat, exp: iat + 600 })
    const overview = await overviewAs(`Bearer ${token}`)
    // alice's successes belong to acme's first organisation; mallory has no account, so every organisation sees it.
    expect(overview.recent_events.map((e) => e.identifier)).not.toContain('alice@acme.test')
    expect(overview.recent_events.map((e) => e.identifier)).toContain('mallory@acme.test')
    expect(overview.totals.successes).toBe(0)
  })

  it('refuses without a token and to the user role', async () => {
    expect((await getWith(t.app, '/v1/monitoring/overview')).status).toBe(401)
    expect((await getWith(t.app, '/v1/monitoring/overview/stream', await bearerFor(t.tokens, acme, 'alice@acme.test'))).status).toBe(403)
  })

  it('pushes an overview at once and another after a new login', async () => {
    const res = await getWith(t.app, '/v1/monitoring/overview/stream', await bearerFor(t.tokens, acme, 'admin@acme.test'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const alice = acme.users['alice@acme.test']!
    let eventId = ''
    const events = await readEvents(res, (seen) => {
      if (seen.length === 1 && !eventId) {
        eventId = 'pending'
        void login(alice.identifier, alice.password, '198.51.100.11').then(async (r) => (eventId = ((await r.json()) as { event_id: string }).event_id))
      }
      return seen.some((o) => o.recent_events.some((e) => e.event_id === eventId))
    })
    expect(events[0]!.tenant.slug).toBe('acme')
    expect(events.at(-1)!.totals.successes).toBe(events[0]!.totals.successes + 1)
  })

  it('shows the newest signed checkpoint and the last verification, the verification pushed by the stream', async () => {
    const auditor = await bearerFor(t.tokens, acme, 'auditor@acme.test')
    const before = await overviewAs(auditor)
    expect(before.chain.last_checkpoint).toBeNull()
    expect(before.chain.last_verification).toBeNull()

    // Globex gets an event, and so a newer checkpoint than any of acme's, which acme must not see.
    await postJson(t.app, '/v1/auth/login', { tenant: 'globex', identifier: 'nobody@globex.test', password: 'wrong-password' })
    const { signer } = await loadCheckpointKeys({ signingKeyPem: TEST_CHECKPOINT_SIGNING_KEY, retiredKeysJwks: null })
    const signed = await checkpointDueChains({ sql: db.sql, signer: signer!, clock: () => new Date(), policy: { intervalMs: 0, everyEvents: 1 } })
    const acmeCheckpoints = signed.filter((cp) => cp.tenantId === acme.tenant.id)
    expect(acmeCheckpoints.length).toBeGreaterThan(0)
    expect(signed.some((cp) => cp.tenantId === globex.tenant.id)).toBe(true)
    const newest = acmeCheckpoints.reduce((a, b) => (b.signedAt > a.signedAt || (b.signedAt === a.signedAt && b.shard > a.shard) ? b : a))
    expect((await overviewAs(auditor)).chain.last_checkpoint).toEqual({ signed_at: newest.signedAt, key_id: signer!.keyId, shard: newest.shard, seq: newest.seq })
    // Another tenant's verifications are never shown either.
    const globexAuditor = await bearerFor(t.tokens, globex, 'auditor@globex.test')
    expect((await getWith(t.app, '/v1/audit/verify', globexAuditor)).status).toBe(200)

    const stream = await getWith(t.app, '/v1/monitoring/overview/stream', auditor)
    const admin = acme.users['admin@acme.test']!
    let asked = false
    const events = await readEvents(stream, (seen) => {
      if (seen.length === 1 && !asked) {
        asked = true
        void bearerFor(t.tokens, acme, 'admin@acme.test').then((bearer) => getWith(t.app, '/v1/audit/verify', bearer))
      }
      return seen.some((o) => o.chain.last_verification !== null)
    })
    const verification = events.at(-1)!.chain.last_verification!
    expect(verification).toMatchObject({ ok: true, via: 'api', verified_by: { user_id: admin.id, identifier: 'admin@acme.test' } })
    expect(verification.verified_events).toBe(events.at(-1)!.chain.events)
    expect(Date.now() - Date.parse(verification.verified_at)).toBeLessThan(60_000)
    expect((await overviewAs(globexAuditor)).chain.last_verification).toMatchObject({ verified_by: { identifier: 'auditor@globex.test' } })

    // The verify command records its verifications too, with nobody as the one who asked.
    const lines: string[] = []
    expect(await runVerifyChain(db.sql, { tenants: ['acme'], all: false, verifier: null }, (line) => lines.push(line))).toBe(0)
    expect(lines.join('\n')).not.toContain('not recorded')
    expect((await overviewAs(auditor)).chain.last_verification).toMatchObject({ ok: true, via: 'command', verified_by: null })
  })

  it('ends the stream with an end event once its session is revoked', async () => {
    const admin = acme.users['admin@acme.test']!
    const signedIn = await login(admin.identifier, admin.password)
    expect(signedIn.status).toBe(200)
    const { access_token: token } = (await signedIn.json()) as { access_token: string }
    const res = await getWith(t.app, '/v1/monitoring/overview/stream', `Bearer ${token}`)
    expect(res.status).toBe(200)
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    while (!text.includes('event: overview')) text += (await reader.read()).value ?? ''
    // Logging out revokes the session (and writes a logout event, which moves the trail and pushes).
    expect((await postJson(t.app, '/v1/auth/logout', {}, { authorization: `Bearer ${token}` })).status).toBeLessThan(300)
    const deadline = Date.now() + 30_000
    for (;;) {
      const { value, done } = await reader.read()
      text += value ?? ''
      if (done || text.includes('event: end') || Date.now() > deadline) break
    }
    expect(text).toContain('event: end')
    expect(text).toContain('session_ended')
    // And the stream is over: nothing more is pushed after the end event.
    const rest = await reader.read()
    expect(rest.done || (rest.value ?? '') === '').toBe(true)
  })

  it('ends the stream when the token expires', async () => {
    const user = acme.users['auditor@acme.test']!
    const iat = Math.floor(Date.now() / 1000)
    const token = await t.tokens.issue({ sub: user.id, tid: acme.tenant.id, org: acme.organisationId, role: 'auditor', jti: crypto.randomUUID(), iat, exp: iat + 2 })
    const res = await getWith(t.app, '/v1/monitoring/overview/stream', `Bearer ${token}`)
    expect(res.status).toBe(200)
    const started = Date.now()
    const text = await res.text()
    expect(text).toContain('event: overview')
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})

describe('overview feed', () => {
  const scope = (tenantId: string): TenantScope => ({ tenantId, organisationId: 'org' })

  it('polls once per watched scope whatever the number of subscribers, recomputes only when the trail moves or the refresh is due, and stops when nobody watches', async () => {
    let version = 1
    let versionReads = 0
    let reads = 0
    let now = 0
    const feed = createOverviewFeed({
      read: async (s) => ({ tenant: s.tenantId, n: ++reads }),
      version: async () => {
        versionReads++
        return String(version)
      },
      pollMs: 5,
      refreshMs: 1000,
      now: () => now,
      log: () => {},
    })
    const seen: number[][] = [[], []]
    const stops = [feed.subscribe(scope('a'), (o) => seen[0]!.push(o.n)), feed.subscribe(scope('a'), (o) => seen[1]!.push(o.n))]
    expect(feed.watched()).toBe(1)
    await until(() => seen[0]!.length === 1, 5_000, 'the first overview')
    // The version does not move and the refresh is not due: polls go on, reads do not.
    const polled = versionReads
    await until(() => versionReads >= polled + 3, 5_000, 'more polls')
    expect(reads).toBe(1)
    version = 2
    await until(() => seen[0]!.length === 2, 5_000, 'an overview after the trail moved')
    now += 1000
    await until(() => seen[0]!.length === 3, 5_000, 'a refresh')
    expect(seen[1]).toEqual(seen[0])
    stops.forEach((stop) => stop())
    expect(feed.watched()).toBe(0)
  })
})
