import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSql, type Sql } from '../src/db/client.ts'
import { ADMIN_URL } from './support/database.ts'
import { createTestApp, postJson, type TestApp } from './support/test-app.ts'

// `authtrail` driven as an operator drives it: a spawned process per command, against a real PostgreSQL
// database that starts empty, and once against the embedded database.

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url))
const BIN = join(REPO_ROOT, 'bin/authtrail.js')

interface Run {
  code: number
  stdout: string
  stderr: string
}

function authtrail(args: readonly string[], env: Record<string, string>, cwd = REPO_ROOT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    )
  })
}

/** Runs `items` through `fn`, `width` at a time (the machine is small and shared). */
async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  for (let i = 0; i < items.length; i += width) results.push(...(await Promise.all(items.slice(i, i + width).map(fn))))
  return results
}

const STACK_FRAME = /^\s+at .+[(:]\d+/m

const dbName = `authtrail_t_cli_${process.pid}_${Math.floor(Math.random() * 1e6)}`
const dbUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`)
let sql: Sql
let workDir: string
let env: Record<string, string>
let t: TestApp

async function onAdmin(statement: string): Promise<void> {
  const admin = createSql(ADMIN_URL, { max: 1 })
  try {
    await admin.unsafe(statement)
  } finally {
    await admin.end()
  }
}

beforeAll(async () => {
  await onAdmin(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)
  await onAdmin(`CREATE DATABASE "${dbName}"`)
  sql = createSql(dbUrl, { max: 2 })
  workDir = await mkdtemp(join(tmpdir(), 'authtrail-cli-'))
  env = { AUTHTRAIL_ENV: 'development', DATABASE_URL: dbUrl, DATA_DIR: join(workDir, 'data') }
})

afterAll(async () => {
  await sql?.end({ timeout: 5 })
  await onAdmin(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)
  if (workDir) await rm(workDir, { recursive: true, force: true })
})

interface EventRow {
  event_type: string
  channel: string
  actor_id: string | null
  identifier: string | null
  metadata: Record<string, unknown>
}

const PASSWORDS: Record<string, string> = { 'admin@acme.test': 'violet tractor sings at noon', 'audrey@acme.test': 'seven quiet ledgers by the sea' }

const eventOf = async (id: string) => (await sql<EventRow[]>`SELECT event_type, channel, actor_id, identifier, metadata FROM auth_logs WHERE id = ${id}`)[0]

describe('from an empty PostgreSQL to a tenant with an administrator and an auditor, by the command alone', () => {
  let operator: { id: string; token: string }
  let tenantId: string
  const invitations: Record<string, string> = {}

  it('migrates the empty database, then finds nothing left to apply', { timeout: 240_000 }, async () => {
    const first = await authtrail(['migrate', '--json'], env)
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout).applied.length).toBeGreaterThan(10)
    const again = await authtrail(['migrate'], env)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/^0 applied, \d+ already applied/m)
    t = await createTestApp(sql)
  })

  it('bootstraps one platform operator, once; its credential is recorded only as a digest', { timeout: 120_000 }, async () => {
    const created = await authtrail(['operator', 'bootstrap', '--name', 'Ops Team', '--json'], env)
    expect(created.code, created.stderr).toBe(0)
    const body = JSON.parse(created.stdout)
    operator = { id: body.operator.id, token: body.token }
    expect(operator.token).toMatch(/^atop_[A-Za-z0-9_-]{43}$/)
    expect(await eventOf(body.event_id)).toMatchObject({ event_type: 'operator_created', metadata: { operator_id: operator.id, operator_name: 'Ops Team' } })
    const [stored] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM platform_operators WHERE token_sha256::text LIKE ${`%${operator.token}%`}`
    expect(stored!.n).toBe(0)

    const twice = await authtrail(['operator', 'bootstrap', '--name', 'Someone else'], env)
    expect(twice.code).toBe(3)
    expect(twice.stderr).toContain('exists already')
    expect(await sql`SELECT 1 FROM platform_operators`).toHaveLength(1)
  })

  it('creates a tenant with the operator as actor; a taken slug and a bad setting are refused without a change', { timeout: 120_000 }, async () => {
    const asOperator = { ...env, AUTHTRAIL_OPERATOR_TOKEN: operator.token }
    const created = await authtrail(['tenant', 'create', 'acme', '--name', 'Acme Corp', '--retention-days', '30', '--can-download', '--organisation', 'HQ', '--json'], asOperator)
    expect(created.code, created.stderr).toBe(0)
    const body = JSON.parse(created.stdout)
    tenantId = body.tenant.id
    expect(body).toMatchObject({ tenant: { slug: 'acme', name: 'Acme Corp', retention_days: 30, can_download: true, registration_mode: 'invite' }, organisation: { name: 'HQ' } })
    expect(await eventOf(body.event_id)).toMatchObject({ event_type: 'tenant_created', channel: 'system', actor_id: operator.id, metadata: { actor_kind: 'operator', slug: 'acme', retention_days: 30 } })

    const [taken, badSetting, badSlug] = await Promise.all([
      authtrail(['tenant', 'create', 'acme'], asOperator),
      authtrail(['tenant', 'create', 'other', '--lockout-base-seconds', '600', '--lockout-max-seconds', '60'], asOperator),
      authtrail(['tenant', 'create', 'Not A Slug'], asOperator),
    ])
    expect(taken).toMatchObject({ code: 3 })
    expect(taken.stderr).toContain('slug acme exists')
    expect(badSetting).toMatchObject({ code: 2 })
    expect(badSetting.stderr).toContain('--lockout-max-seconds: must be at least lockout_base_seconds')
    expect(badSlug).toMatchObject({ code: 2 })
    expect(badSlug.stderr).toContain('<slug>: must be')
    expect((await sql`SELECT slug FROM tenants WHERE slug <> '_unattributed'`).map((r) => r.slug)).toEqual(['acme'])

    const forged = await authtrail(['tenant', 'create', 'forged'], { ...env, AUTHTRAIL_OPERATOR_TOKEN: `atop_${'A'.repeat(43)}` })
    expect(forged.code).toBe(78)
    expect(forged.stderr).toContain('AUTHTRAIL_OPERATOR_TOKEN')
  })

  it('changes the plan and settings as events with from and to; the same values again record nothing', { timeout: 120_000 }, async () => {
    const updated = await authtrail(['tenant', 'update', 'acme', '--lockout-max-failures', '3', '--allowed-origin', 'https://app.acme.test', '--json'], env)
    expect(updated.code, updated.stderr).toBe(0)
    const body = JSON.parse(updated.stdout)
    expect(body.tenant).toMatchObject({ lockout_max_failures: 3, allowed_origins: ['https://app.acme.test'] })
    const events = await Promise.all(body.event_ids.map(eventOf))
    expect(events.map((e) => e!.event_type).sort()).toEqual(['tenant_plan_changed', 'tenant_settings_changed'])
    expect(events.find((e) => e!.event_type === 'tenant_plan_changed')).toMatchObject({ channel: 'system', actor_id: null, metadata: { actor_kind: 'service', changes: { lockout_max_failures: { from: 5, to: 3 } } } })
    const same = await authtrail(['tenant', 'update', 'acme', '--lockout-max-failures', '3', '--json'], env)
    expect(JSON.parse(same.stdout).event_ids).toEqual([])
    const defence = await authtrail(['tenant', 'update', 'acme', '--defence-policy', '{"ip_failure_budget":50}', '--json'], env)
    expect(defence.code, defence.stderr).toBe(0)
    const changed = JSON.parse(defence.stdout)
    expect(changed.tenant.defence_policy).toMatchObject({ ip_failure_budget: 50 })
    expect(await eventOf(changed.event_ids[0])).toMatchObject({ event_type: 'tenant_defence_policy_changed', metadata: { actor_kind: 'service', to: { ip_failure_budget: 50 } } })
    const listed = await authtrail(['tenant', 'list', '--json'], env)
    expect(JSON.parse(listed.stdout).tenants.map((x: { slug: string }) => x.slug)).toEqual(['acme'])
  })

  it('invites an administrator and a future auditor; each registers with their invitation', { timeout: 120_000 }, async () => {
    const [admin, auditor] = await Promise.all([
      authtrail(['user', 'invite', '--tenant', 'acme', 'Admin@Acme.test', '--role', 'admin', '--json'], env),
      authtrail(['user', 'invite', '--tenant', tenantId, 'audrey@acme.test', '--json'], env),
    ])
    for (const run of [admin, auditor]) expect(run.code, run.stderr).toBe(0)
    for (const [who, run] of [['admin@acme.test', admin], ['audrey@acme.test', auditor]] as const) {
      const body = JSON.parse(run.stdout)
      invitations[who] = body.invitation
      expect(body.identifier).toBe(who)
      expect(await eventOf(body.event_id)).toMatchObject({ event_type: 'user_invited', channel: 'system', identifier: who, metadata: { actor_kind: 'service' } })
    }
    expect(JSON.parse(admin.stdout).role).toBe('admin')
    expect(JSON.parse(auditor.stdout).role).toBe('user')
    const again = await authtrail(['user', 'invite', '--tenant', 'acme', 'audrey@acme.test'], env)
    expect(again.code).toBe(0)

    for (const [identifier, invitation] of Object.entries(invitations)) {
      const registered = await postJson(t.app, '/v1/auth/register', { tenant: 'acme', identifier, password: PASSWORDS[identifier], invitation })
      expect(registered.status, await registered.clone().text()).toBe(202)
    }
    const taken = await authtrail(['user', 'invite', '--tenant', 'acme', 'audrey@acme.test'], env)
    expect(taken.code).toBe(3)
    expect(taken.stderr).toContain('has an account')
  })

  it('makes the user an auditor, disables and enables them; each change is an event naming from and to', { timeout: 120_000 }, async () => {
    const role = await authtrail(['user', 'set-role', '--tenant', 'acme', 'audrey@acme.test', 'auditor', '--json'], env)
    expect(role.code, role.stderr).toBe(0)
    const body = JSON.parse(role.stdout)
    expect(body.user).toMatchObject({ identifier: 'audrey@acme.test', role: 'auditor', status: 'active' })
    expect(await eventOf(body.event_id)).toMatchObject({ event_type: 'user_role_changed', channel: 'system', metadata: { from: 'user', to: 'auditor', actor_kind: 'service' } })
    const unchanged = await authtrail(['user', 'set-role', '--tenant', 'acme', body.user.id, 'auditor', '--json'], env)
    expect(JSON.parse(unchanged.stdout).event_id).toBeNull()

    const disabled = await authtrail(['user', 'disable', '--tenant', 'acme', 'audrey@acme.test', '--json'], env)
    expect(await eventOf(JSON.parse(disabled.stdout).event_id)).toMatchObject({ event_type: 'user_disabled' })
    expect((await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'audrey@acme.test', password: PASSWORDS['audrey@acme.test'] })).status).toBe(401)
    const enabled = await authtrail(['user', 'enable', '--tenant', 'acme', 'audrey@acme.test', '--json'], env)
    expect(await eventOf(JSON.parse(enabled.stdout).event_id)).toMatchObject({ event_type: 'user_enabled' })
    expect((await postJson(t.app, '/v1/auth/login', { tenant: 'acme', identifier: 'audrey@acme.test', password: PASSWORDS['audrey@acme.test'] })).status).toBe(200)

    const users = await authtrail(['user', 'list', '--tenant', 'acme', '--json'], env)
    expect(JSON.parse(users.stdout).users.map((u: { identifier: string; role: string }) => `${u.identifier} ${u.role}`).sort()).toEqual(['admin@acme.test admin', 'audrey@acme.test auditor'])
    const nobody = await authtrail(['user', 'disable', '--tenant', 'acme', 'nobody@acme.test'], env)
    expect(nobody.code).toBe(2)
    expect(nobody.stderr).toContain('no user nobody@acme.test in tenant acme')
  })

  it('exports the trail to a file named after its first event (audited), and every change is in it', { timeout: 120_000 }, async () => {
    const exported = await authtrail(['export', '--tenant', 'acme', '--json'], env, workDir)
    expect(exported.code, exported.stderr).toBe(0)
    const body = JSON.parse(exported.stdout)
    const [first] = await sql<{ occurred_at: Date }[]>`SELECT occurred_at FROM auth_logs WHERE tenant_id = ${tenantId} ORDER BY occurred_at, id LIMIT 1`
    expect(body.file).toBe(`authtrail-acme-${first!.occurred_at.toISOString().replaceAll(':', '')}.ndjson`)
    expect(await readdir(workDir)).toContain(body.file)
    const lines = (await readFile(join(workDir, body.file), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { event_type: string; tenant_id: string })
    expect(lines).toHaveLength(body.events)
    expect(lines.every((e) => e.tenant_id === tenantId)).toBe(true)
    expect(new Set(lines.map((e) => e.event_type))).toEqual(
      new Set(['tenant_created', 'tenant_plan_changed', 'tenant_settings_changed', 'tenant_defence_policy_changed', 'user_invited', 'registration_succeeded', 'user_role_changed', 'user_disabled', 'user_enabled', 'login_failed', 'lockout_reset', 'login_success']),
    )
    expect(await eventOf(body.event_id)).toMatchObject({ event_type: 'audit_exported', channel: 'system', metadata: { format: 'ndjson', from: null } })
    // Not a terminal: plain progress lines on stderr, never on stdout.
    expect(exported.stderr).toMatch(/^export: 100% \| \d+\/\d+ lines \| \d+\/s/m)

    const csv = await authtrail(['export', '--tenant', 'acme', '--format', 'csv', '--output', '-', '--from', '2020-01-01'], env)
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout.split('\r\n')[0]).toMatch(/^id,occurred_at,tenant_id/)
  })

  it('verifies the chain with every change in it; the run shows its progress', { timeout: 120_000 }, async () => {
    const verified = await authtrail(['verify', '--tenant', 'acme', '--json'], env)
    expect(verified.code, verified.stderr).toBe(0)
    const body = JSON.parse(verified.stdout)
    const [count] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM auth_logs WHERE tenant_id = ${tenantId}`
    const n = count!.n
    expect(body).toMatchObject({ ok: true, tenants: [{ slug: 'acme', ok: true, verified_events: n }] })
    expect(verified.stderr).toMatch(new RegExp(`^verify: 100% \\| ${n}/${n} events`, 'm'))

    await sql.begin(async (tx) => {
      await tx`ALTER TABLE auth_logs DISABLE TRIGGER auth_logs_append_only`
      await tx`UPDATE auth_logs SET identifier = 'mallory@acme.test' WHERE tenant_id = ${tenantId} AND event_type = 'user_role_changed'`
      await tx`ALTER TABLE auth_logs ENABLE TRIGGER auth_logs_append_only`
    })
    const broken = await authtrail(['verify', '--all'], env)
    expect(broken.code).toBe(1)
    expect(broken.stdout).toMatch(/^BROKEN acme .*first broken seq \d+ in shard \d+ \(digest_mismatch/m)
  })

  it('purge refuses a --before later than now instead of quietly capping it', { timeout: 120_000 }, async () => {
    const later = await authtrail(['purge', '--all', '--before', '2999-01-01'], env)
    expect(later.code).toBe(2)
    expect(later.stderr).toMatch(/--before 2999-01-01T00:00:00.000Z is later than now \(.+ by the database's clock\)/)
    const now = await authtrail(['purge', '--tenant', 'acme', '--json'], env)
    expect(now.code, now.stderr).toBe(0)
    expect(JSON.parse(now.stdout).tenants).toMatchObject([{ tenant: { slug: 'acme' }, purged_events: 0, event_id: null }])
  })

  it('re-drives a syslog dead letter in development into the CEF file the service writes, audited', { timeout: 120_000 }, async () => {
    const [row] = await sql<{ event_id: string; tenant_id: string; shard: number; seq: number; payload: unknown }[]>`
      SELECT event_id, tenant_id, shard, seq, payload FROM outbox WHERE tenant_id = ${tenantId} ORDER BY id LIMIT 1`
    await sql`
      INSERT INTO outbox_dead_letters (sink, event_id, tenant_id, shard, seq, payload, attempts, last_error)
      VALUES ('syslog', ${row!.event_id}, ${row!.tenant_id}, ${row!.shard}, ${row!.seq}, ${sql.json(row!.payload as never)}, 10, 'test: receiver down')`
    const redriven = await authtrail(['redrive', '--sink', 'syslog', '--tenant', 'acme', '--json'], env)
    expect(redriven.code, redriven.stderr).toBe(0)
    const body = JSON.parse(redriven.stdout)
    expect(body).toMatchObject({ redriven: [row!.event_id], failed: [] })
    expect(await readFile(join(env.DATA_DIR!, 'cef.log'), 'utf8')).toContain(`externalId=${row!.event_id}`)
    expect(await eventOf(body.auditEventIds[0])).toMatchObject({ event_type: 'dead_letters_redriven', metadata: { sink: 'syslog', redriven_count: 1 } })
    const docstore = await authtrail(['redrive', '--sink', 'docstore'], env)
    expect(docstore.code).toBe(78)
    expect(docstore.stderr).toContain('MONGO_URL')
  })
})

describe('usage', () => {
  const SUBCOMMANDS = [
    'migrate', 'serve', 'relay', 'operator', 'operator bootstrap', 'tenant', 'tenant create', 'tenant list', 'tenant update',
    'user', 'user invite', 'user list', 'user set-role', 'user disable', 'user enable', 'verify', 'check-copies', 'export', 'purge', 'redrive',
  ]

  it('--help works on the command and every subcommand', { timeout: 600_000 }, async () => {
    const runs = await inBatches(['', ...SUBCOMMANDS], 3, async (name) => ({ name, run: await authtrail([...name.split(' ').filter(Boolean), '--help'], env) }))
    for (const { name, run } of runs) {
      expect(run.code, `${name}: ${run.stderr}`).toBe(0)
      expect(run.stdout).toMatch(new RegExp(`^Usage: authtrail${name ? ` ${name}` : ''} `))
    }
    expect(runs[0]!.run.stdout).toMatch(/Exit codes: 0 ok; 1 a check failed/)
  })

  it('bad or unknown arguments print the usage error and exit 2, never a stack trace', { timeout: 600_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: authtrail/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['verify', '--bogus'], /unknown option '--bogus'/],
      [['verify'], /give --tenant <tenant> \(repeatable\) or --all/],
      [['verify', '--tenant', 'acme', '--all'], /not both/],
      [['verify', '--tenant', 'no-such-tenant'], /unknown tenant no-such-tenant/],
      [['tenant', 'create'], /missing required argument 'slug'/],
      [['tenant', 'create', 'x', '--retention-days', 'forever'], /--retention-days <days>' argument 'forever' is invalid/],
      [['tenant', 'update', 'acme'], /nothing to change/],
      [['tenant', 'update', 'acme', '--defence-policy', '{"ip_failure_budget":"lots"}'], /--defence-policy: ip_failure_budget: /],
      [['user', 'invite', 'someone@acme.test'], /required option '--tenant <tenant>' not specified/],
      [['user', 'set-role', '--tenant', 'acme', 'audrey@acme.test', 'superuser'], /Allowed choices are user, admin, auditor/],
      [['export', '--tenant', 'acme', '--from', 'last tuesday'], /must be an ISO 8601 instant/],
      [['export', '--tenant', 'acme', '--from', '2026-12-02', '--to', '2026-12-01'], /--to: must be later than --from/],
      [['redrive', '--sink', 'pigeon'], /Allowed choices are docstore, syslog/],
      [['redrive', '--sink', 'syslog', '--limit', '0'], /--limit <n>' argument '0' is invalid/],
    ]
    const runs = await inBatches(cases, 3, async ([args, message]) => ({ args, message, run: await authtrail(args, env) }))
    for (const { args, message, run } of runs) {
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2)
      expect(run.stderr, args.join(' ')).toMatch(message)
      expect(run.stderr, args.join(' ')).toMatch(/--help/)
      expect(run.stderr + run.stdout, args.join(' ')).not.toMatch(STACK_FRAME)
    }
  })

  it('an unreachable database exits 69 and a bad configuration 78, naming it, without a stack trace', { timeout: 120_000 }, async () => {
    const [down, production] = await Promise.all([
      authtrail(['tenant', 'list'], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' }),
      authtrail(['tenant', 'list'], { AUTHTRAIL_ENV: 'production' }),
    ])
    expect(down.code).toBe(69)
    expect(down.stderr).toMatch(/the database is unavailable \(ECONNREFUSED/)
    expect(production.code).toBe(78)
    expect(production.stderr).toMatch(/DATABASE_URL: must be set outside development/)
    for (const run of [down, production]) expect(run.stderr).not.toMatch(STACK_FRAME)
  })
})

describe('against the embedded database (DATABASE_URL unset)', () => {
  it('creates a tenant in DATA_DIR and finds it on the next run', { timeout: 600_000 }, async () => {
    const embedded = { AUTHTRAIL_ENV: 'development', DATA_DIR: join(workDir, 'embedded') }
    const created = await authtrail(['tenant', 'create', 'local', '--json'], embedded)
    expect(created.code, created.stderr).toBe(0)
    expect(JSON.parse(created.stdout).tenant.slug).toBe('local')
    const verified = await authtrail(['verify', '--tenant', 'local', '--json'], embedded)
    expect(verified.code, verified.stderr).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, tenants: [{ slug: 'local', verified_events: 1 }] })
    expect(await readdir(join(workDir, 'embedded', 'pglite'))).toContain('PG_VERSION')
  })

  it('is refused with exit 75, naming the holder, while another live process holds the directory', { timeout: 120_000 }, async () => {
    const dataDir = join(workDir, 'held')
    // This test's own process stands for a running `npm start`: alive, and not the command.
    await mkdir(dataDir, { recursive: true })
    await writeFile(`${join(dataDir, 'pglite')}.lock`, String(process.pid))
    const run = await authtrail(['tenant', 'list'], { AUTHTRAIL_ENV: 'development', DATA_DIR: dataDir })
    expect(run.code, run.stderr).toBe(75)
    expect(run.stderr).toContain(`is in use by process ${process.pid}`)
    expect(run.stderr).not.toMatch(STACK_FRAME)
  })
})
