import { Option, type Command } from 'commander'
import { bootstrapOperator } from '../../admin/platform-operators.ts'
import { commandEnv, emit, withCommandDatabase, type ActionResult } from '../command-context.ts'
import { refused } from '../exit-codes.ts'

export function registerOperatorCommands(program: Command, run: (action: (...args: never[]) => Promise<ActionResult>) => (...args: unknown[]) => Promise<void>): void {
  const operator = program.command('operator').description('platform operators, who create and change tenants (/v1/platform)')
  operator
    .command('bootstrap')
    .description('create the first platform operator and print its credential, once (records operator_created); refused once one exists. Connects as the owner role (MIGRATION_DATABASE_URL): the runtime role cannot create operators')
    .addOption(new Option('--name <name>', 'who the operator is, as events name them').makeOptionMandatory())
    .option('--json', 'print the result as JSON')
    .action(
      run(async (options: { name: string; json?: boolean }) => {
        const env = commandEnv()
        // A stolen DATABASE_URL must not mint an operator: the runtime role may only read platform_operators.
        const url = env.MIGRATION_DATABASE_URL ? { variable: 'MIGRATION_DATABASE_URL', value: env.MIGRATION_DATABASE_URL } : { variable: 'DATABASE_URL', value: env.DATABASE_URL }
        return withCommandDatabase(env, async ({ sql }) => {
          const result = await bootstrapOperator({ sql, clock: () => new Date() }, options.name)
          if (result.kind === 'already_bootstrapped') throw refused('a platform operator exists already; bootstrap runs once')
          emit(options.json, { operator: result.operator, token: result.token, event_id: result.eventId }, [
            `created platform operator ${result.operator.name} (${result.operator.id})`,
            `credential (shown once, keep it secret): ${result.token}`,
            'use it as AUTHTRAIL_OPERATOR_TOKEN for this command, or as "Authorization: Bearer <credential>" on /v1/platform',
            `event operator_created ${result.eventId}`,
          ])
          return 0
        }, url)
      }),
    )
}
