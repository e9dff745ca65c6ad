import { Argument, Option, type Command } from 'commander'
import { changeUserRole, inviteUser, listUsers, setUserStatus, type ManagedUser, type UserChangeResult } from '../../admin/administer-users.ts'
import { normalizeIdentifier } from '../../core/identifier.ts'
import { ROLES, type Role } from '../../core/tenancy.ts'
import type { Tenant } from '../../db/tenants.ts'
import { commandActor, commandEnv, emit, isUuid, tenantNamed, uuid, withCommandDatabase, type ActionResult } from '../command-context.ts'
import { refused, usageError } from '../exit-codes.ts'

const deps = (sql: Parameters<typeof inviteUser>[0]['sql']) => ({ sql, clock: () => new Date() })

function userBody(user: ManagedUser) {
  return { id: user.id, organisation_id: user.organisationId, identifier: user.identifier, role: user.role, status: user.status, created_at: user.createdAt }
}

/** A user by id or identifier (normalised as at login). */
function target(user: string): { userId?: string; identifier?: string } {
  return isUuid(user) ? { userId: user.toLowerCase() } : { identifier: normalizeIdentifier(user) }
}

function report(result: UserChangeResult, tenant: Tenant, user: string, verb: string, json: boolean | undefined): number {
  if (result.kind === 'not_found') throw usageError(`no user ${user} in tenant ${tenant.slug}`)
  // The command acts with the operator's or the service's authority, which no tenant role bounds.
  if (result.kind === 'refused') throw refused(`refused: ${result.refusal}`)
  const eventId = result.kind === 'changed' ? result.eventId : null
  emit(json, { user: userBody(result.user), event_id: eventId }, [
    `${result.kind === 'changed' ? verb : 'unchanged'}: ${result.user.identifier} (${result.user.id}) in ${tenant.slug}, role ${result.user.role}, ${result.user.status}`,
    ...(eventId ? [`event ${eventId}`] : []),
  ])
  return 0
}

export function registerUserCommands(program: Command, run: (action: (...args: never[]) => Promise<ActionResult>) => (...args: unknown[]) => Promise<void>): void {
  const user = program.command('user').description("invite users and manage their roles and status (each change an audit event in the account's chain)")
  const tenantOption = () => new Option('--tenant <tenant>', 'slug or id').makeOptionMandatory()

  user
    .command('invite')
    .description('invite someone into an organisation with a role (records user_invited); prints the invitation secret once')
    .addOption(tenantOption())
    .argument('<identifier>', 'what they will log in with, usually an email address')
    .addOption(new Option('--role <role>', 'their role once registered').choices(ROLES).default('user'))
    .option('--organisation <id>', "the organisation (default: the tenant's first)", uuid)
    .option('--json', 'print the result as JSON')
    .action(
      run(async (identifier: string, options: { tenant: string; role: Role; organisation?: string; json?: boolean }) => {
        const normalised = normalizeIdentifier(identifier)
        if (normalised === '' || normalised.length > 254) throw usageError('<identifier>: must be 1 to 254 characters')
        const env = commandEnv()
        return withCommandDatabase(env, async ({ sql }) => {
          const tenant = await tenantNamed(sql, options.tenant)
          const actor = await commandActor(sql)
          const result = await inviteUser(deps(sql), { tenant, scope: { tenantId: tenant.id, organisationId: null }, actor, identifier: normalised, role: options.role, organisationId: options.organisation })
          if (result.kind === 'unknown_organisation') throw usageError(`no organisation ${options.organisation ?? ''} in tenant ${tenant.slug}`)
          if (result.kind === 'identifier_taken') throw refused(`${normalised} has an account in ${tenant.slug} already`)
          if (result.kind === 'refused') throw refused(`refused: ${result.refusal}`)
          emit(
            options.json,
            { invitation_id: result.invitationId, invitation: result.token, identifier: normalised, role: options.role, organisation_id: result.organisationId, expires_at: result.expiresAt, event_id: result.eventId },
            [
              `invited ${normalised} into ${tenant.slug} as ${options.role} (organisation ${result.organisationId}), until ${result.expiresAt}`,
              `invitation (shown once): ${result.token}`,
              `they register with POST /v1/auth/register {"tenant":"${tenant.slug}","identifier":"${normalised}","password":…,"invitation":"<the invitation>"}`,
              `event user_invited ${result.eventId}`,
            ],
          )
          return 0
        })
      }),
    )

  user
    .command('list')
    .description("list a tenant's users")
    .addOption(tenantOption())
    .option('--json', 'print the result as JSON')
    .action(
      run(async (options: { tenant: string; json?: boolean }) => {
        const env = commandEnv()
        return withCommandDatabase(env, async ({ sql }) => {
          const tenant = await tenantNamed(sql, options.tenant)
          const all: ManagedUser[] = []
          for (let after: string | null = null; ; ) {
            const page = await listUsers(sql, { tenantId: tenant.id, organisationId: null }, { after, limit: 500 })
            all.push(...page.users)
            if (page.next === null) break
            after = page.next
          }
          emit(options.json, { users: all.map(userBody) }, all.length ? all.map((u) => `${u.identifier} (${u.id}) ${u.role} ${u.status}`) : [`no users in ${tenant.slug}`])
          return 0
        })
      }),
    )

  user
    .command('set-role')
    .description("give a user a role (records user_role_changed with from and to)")
    .addOption(tenantOption())
    .argument('<user>', 'identifier or id')
    .addArgument(new Argument('<role>', 'the new role').choices(ROLES))
    .option('--json', 'print the result as JSON')
    .action(
      run(async (who: string, role: Role, options: { tenant: string; json?: boolean }) => {
        const env = commandEnv()
        return withCommandDatabase(env, async ({ sql }) => {
          const tenant = await tenantNamed(sql, options.tenant)
          const actor = await commandActor(sql)
          const result = await changeUserRole(deps(sql), { tenant, scope: { tenantId: tenant.id, organisationId: null }, actor, target: target(who), role })
          return report(result, tenant, who, `role set to ${role}`, options.json)
        })
      }),
    )

  for (const [name, status, event] of [
    ['disable', 'disabled', 'user_disabled'],
    ['enable', 'active', 'user_enabled'],
  ] as const) {
    user
      .command(name)
      .description(`${name} a user's logins (records ${event})`)
      .addOption(tenantOption())
      .argument('<user>', 'identifier or id')
      .option('--json', 'print the result as JSON')
      .action(
        run(async (who: string, options: { tenant: string; json?: boolean }) => {
          const env = commandEnv()
          return withCommandDatabase(env, async ({ sql }) => {
            const tenant = await tenantNamed(sql, options.tenant)
            const actor = await commandActor(sql)
            const result = await setUserStatus(deps(sql), { tenant, scope: { tenantId: tenant.id, organisationId: null }, actor, target: target(who), status })
            return report(result, tenant, who, `${name}d`, options.json)
          })
        }),
      )
  }
}
