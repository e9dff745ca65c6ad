import { Option, type Command } from 'commander'
import { changeDefencePolicyAudited, createTenantAudited, listTenants, updateTenantAudited } from '../../admin/administer-tenants.ts'
import { lockoutPolicyProblem, REGISTRATION_MODES } from '../../core/administration.ts'
import { DefencePolicyChange } from '../../core/defence-policy.ts'
import { DEFAULT_LOCKOUT_SETTINGS, newTenantFromSettings, type Tenant } from '../../db/tenants.ts'
import { CreateTenantBody, UpdateTenantBody } from '../../routes/platform/platform.routes.ts'
import { tenantBody } from '../../routes/platform/platform.handlers.ts'
import { collect, commandActor, commandEnv, emit, integerFrom, tenantNamed, withCommandDatabase, type ActionResult } from '../command-context.ts'
import { refused, usageError } from '../exit-codes.ts'

interface SettingsOptions {
  name?: string
  registrationMode?: string
  allowedOrigin?: string[]
  retentionDays?: number
  canDownload?: boolean
  lockoutMaxFailures?: number
  lockoutWindowSeconds?: number
  lockoutBaseSeconds?: number
  lockoutMultiplier?: number
  lockoutMaxSeconds?: number
  json?: boolean
}

/** The settings flags, named after the settings' stored names (`retention_days` is `--retention-days`). */
function addSettingsOptions(command: Command): Command {
  return command
    .option('--name <text>', 'display name')
    .addOption(new Option('--registration-mode <mode>', 'who may create accounts (new tenants: invite)').choices(REGISTRATION_MODES))
    .option('--allowed-origin <origin>', 'a web origin allowed to call the API (repeat for several; replaces the list)', collect)
    .option('--retention-days <days>', 'how long events are kept (new tenants: 365)', integerFrom(1, 3650))
    .option('--can-download', 'the plan includes exports')
    .option('--no-can-download', 'the plan does not include exports (new tenants)')
    .option('--lockout-max-failures <n>', 'failures before an account locks (new tenants: 5)', integerFrom(1, 1000))
    .option('--lockout-window-seconds <s>', 'window the failures are counted in (900)', integerFrom(1, 86_400 * 30))
    .option('--lockout-base-seconds <s>', 'first lock duration (300)', integerFrom(1, 86_400 * 30))
    .option('--lockout-multiplier <n>', 'each further lock lasts this many times longer (2)', integerFrom(1, 10))
    .option('--lockout-max-seconds <s>', 'longest lock (86400)', integerFrom(1, 86_400 * 365))
    .option('--json', 'print the result as JSON')
}

function settingsOf(o: SettingsOptions): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    name: o.name,
    registration_mode: o.registrationMode,
    allowed_origins: o.allowedOrigin,
    retention_days: o.retentionDays,
    can_download: o.canDownload,
    lockout_max_failures: o.lockoutMaxFailures,
    lockout_window_seconds: o.lockoutWindowSeconds,
    lockout_base_seconds: o.lockoutBaseSeconds,
    lockout_multiplier: o.lockoutMultiplier,
    lockout_max_seconds: o.lockoutMaxSeconds,
  }
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined))
}

const FLAGS: Record<string, string> = { slug: '<slug>', allowed_origins: '--allowed-origin', organisation_name: '--organisation' }
const flagOf = (field: string) => FLAGS[field] ?? `--${field.replaceAll('_', '-')}`

/** Validates with the administration API's own schema, so the command and the API accept the same settings. */
function parsed<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, body: unknown): T {
  const result = schema.safeParse(body)
  if (!result.success) throw usageError(result.error.issues.map((i) => `${i.path.length ? flagOf(String(i.path[0])) : 'settings'}: ${i.message}`).join('\n'))
  return result.data
}

/** The --defence-policy JSON, checked against the change's schema before anything is written. */
function defenceChangeOf(text: string): DefencePolicyChange {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw usageError('--defence-policy: must be a JSON object, e.g. {"ip_failure_budget":50}')
  }
  const result = DefencePolicyChange.safeParse(value)
  if (!result.success) throw usageError(result.error.issues.map((i) => `--defence-policy: ${i.path.join('.') || '(object)'}: ${i.message}`).join('\n'))
  if (Object.keys(result.data).length === 0) throw usageError('--defence-policy: name at least one field')
  return result.data
}

function describe(tenant: Tenant): string {
  const p = tenant.lockoutPolicy
  return [
    `${tenant.slug} (${tenant.id}) "${tenant.name}"`,
    `registration ${tenant.registrationMode}`,
    `retention ${tenant.retentionDays} d`,
    `downloads ${tenant.canDownload ? 'yes' : 'no'}`,
    `lockout ${p.maxFailures} in ${p.windowSeconds} s, ${p.baseLockSeconds}-${p.maxLockSeconds} s ×${p.multiplier}`,
    `origins ${tenant.allowedOrigins.length ? tenant.allowedOrigins.join(' ') : '-'}`,
  ].join(', ')
}

export function registerTenantCommands(program: Command, run: (action: (...args: never[]) => Promise<ActionResult>) => (...args: unknown[]) => Promise<void>): void {
  const tenant = program.command('tenant').description('create, list and change tenants (each change an audit event in the tenant\'s chain)')

  addSettingsOptions(
    tenant
      .command('create')
      .description('create a tenant with its first organisation (records tenant_created)')
      .argument('<slug>', 'the name clients log in with: a-z, 0-9, _ and -')
      .option('--organisation <name>', 'its first organisation (default "default")')
      .option('--chain-shards <n>', 'hash chains, fixed at creation (16)', integerFrom(1, 256)),
  ).action(
    run(async (slug: string, options: SettingsOptions & { organisation?: string; chainShards?: number }) => {
      const body = parsed(CreateTenantBody, { slug, ...settingsOf(options), organisation_name: options.organisation, chain_shards: options.chainShards })
      const problem = lockoutPolicyProblem({ ...DEFAULT_LOCKOUT_SETTINGS, ...body })
      if (problem) throw usageError(`${flagOf(problem.field)}: ${problem.detail}`)
      const env = commandEnv()
      return withCommandDatabase(env, async ({ sql }) => {
        const actor = await commandActor(sql)
        const result = await createTenantAudited({ sql, clock: () => new Date() }, { ...newTenantFromSettings(body), organisationName: body.organisation_name, actor })
        if (result.kind === 'slug_taken') throw refused(`a tenant with the slug ${slug} exists`)
        emit(options.json, { tenant: tenantBody(result.tenant), organisation: result.organisation, event_id: result.eventId }, [
          `created tenant ${describe(result.tenant)}`,
          `organisation ${result.organisation.name} (${result.organisation.id})`,
          `event tenant_created ${result.eventId}`,
        ])
        return 0
      })
    }),
  )

  tenant
    .command('list')
    .description('list every tenant and its settings')
    .option('--json', 'print the result as JSON')
    .action(
      run(async (options: { json?: boolean }) => {
        const env = commandEnv()
        return withCommandDatabase(env, async ({ sql }) => {
          const all: Tenant[] = []
          for (let after: string | null = null; ; ) {
            const page = await listTenants(sql, { after, limit: 500 })
            all.push(...page.tenants)
            if (page.next === null) break
            after = page.next
          }
          emit(options.json, { tenants: all.map(tenantBody) }, all.length ? all.map(describe) : ['no tenants'])
          return 0
        })
      }),
    )

  addSettingsOptions(
    tenant
      .command('update')
      .description("change a tenant's plan, settings or defence policy (records tenant_plan_changed, tenant_settings_changed, tenant_defence_policy_changed)")
      .argument('<tenant>', 'slug or id')
      .option('--defence-policy <json>', 'defence policy fields to change, as JSON (README, "Active defence"): {"ip_failure_budget":50}'),
  ).action(
    run(async (name: string, options: SettingsOptions & { defencePolicy?: string }) => {
      const update = parsed(UpdateTenantBody, settingsOf(options))
      const defence = options.defencePolicy === undefined ? undefined : defenceChangeOf(options.defencePolicy)
      if (Object.keys(update).length === 0 && defence === undefined) throw usageError('nothing to change: give at least one setting (see --help)')
      const env = commandEnv()
      return withCommandDatabase(env, async ({ sql }) => {
        const current = await tenantNamed(sql, name)
        const actor = await commandActor(sql)
        const deps = { sql, clock: () => new Date() }
        const result = await updateTenantAudited(deps, { tenantId: current.id, update, actor })
        if (result.kind === 'not_found') throw usageError(`unknown tenant ${name}`)
        if (result.kind === 'invalid') throw usageError(`${flagOf(result.field)}: ${result.detail}`)
        let tenant = result.tenant
        const eventIds = [...result.eventIds]
        if (defence !== undefined) {
          // Its own transaction and event, as through the API (PATCH /v1/platform/tenants/{id}/defence-policy).
          const changed = await changeDefencePolicyAudited(deps, { tenantId: current.id, change: defence, actor })
          if (changed.kind === 'not_found') throw usageError(`unknown tenant ${name}`)
          if (changed.kind === 'invalid') throw usageError(`--defence-policy: ${changed.field}: ${changed.detail}${eventIds.length ? ` (the other settings were changed: events ${eventIds.join(', ')})` : ''}`)
          tenant = changed.tenant
          if (changed.eventId) eventIds.push(changed.eventId)
        }
        emit(options.json, { tenant: { ...tenantBody(tenant), defence_policy: tenant.defenceSettings }, event_ids: eventIds }, [
          `${eventIds.length ? 'updated' : 'unchanged'} tenant ${describe(tenant)}`,
          ...(defence === undefined ? [] : [`defence policy ${JSON.stringify(tenant.defenceSettings)}`]),
          ...eventIds.map((id) => `event ${id}`),
        ])
        return 0
      })
    }),
  )
}
