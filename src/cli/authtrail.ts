import { Command, CommanderError } from 'commander'
import { ConfigError } from '../config/env.ts'
import { DataDirectoryLockedError } from '../db/embedded-postgres.ts'
import { isDatabaseUnavailable, isInsufficientPrivilege } from '../db/sqlstate.ts'
import { SERVICE_VERSION } from '../version.ts'
import type { ActionResult } from './command-context.ts'
import { registerCheckCommands } from './commands/checks.ts'
import { registerMaintenanceCommands } from './commands/maintenance.ts'
import { registerOperatorCommands } from './commands/operator.ts'
import { registerServiceCommands, type ServiceEntrypoints } from './commands/service.ts'
import { registerTenantCommands } from './commands/tenant.ts'
import { registerUserCommands } from './commands/user.ts'
import { CommandError, EXIT } from './exit-codes.ts'

const EXIT_CODES_HELP = `
Exit codes: 0 ok; 1 a check failed (broken chain, diverging copies, dead letters still failing);
2 bad arguments or an unknown tenant or user; 3 refused (slug or identifier taken, operator exists,
no downloads in the plan); 69 database unavailable; 70 unexpected error; 75 the embedded database is in use
by another process; 78 invalid configuration
(or a database role without the privilege).
Without DATABASE_URL (development), commands run on the embedded database in DATA_DIR; stop the service first.
Changes are recorded with the operator in AUTHTRAIL_OPERATOR_TOKEN as actor, or else the service.`

/** The `authtrail` program: every subcommand, each calling the same use cases as the API. */
export function createProgram(entrypoints: ServiceEntrypoints, result: { code: ActionResult }): Command {
  const program = new Command('authtrail')
    .description('authtrail: a login service with a tamper-evident audit trail; set it up and run it')
    .version(SERVICE_VERSION)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
  const run =
    (action: (...args: never[]) => Promise<ActionResult>) =>
    async (...args: unknown[]): Promise<void> => {
      result.code = await (action as (...a: unknown[]) => Promise<ActionResult>)(...args)
    }
  registerServiceCommands(program, run, entrypoints)
  registerOperatorCommands(program, run)
  registerTenantCommands(program, run)
  registerUserCommands(program, run)
  registerCheckCommands(program, run)
  registerMaintenanceCommands(program, run)
  return program
}

function describeUnavailable(error: unknown): string {
  const e = error as { code?: string; message?: string }
  return `the database is unavailable (${e.code ?? 'error'}: ${e.message ?? String(error)})`
}

/**
 * Runs `authtrail` with the process's arguments and returns the exit code (or `running` for serve and
 * relay). Never prints a stack trace: a usage error prints the message and the command's usage hint,
 * anything else one line saying what failed, each with its exit code (see EXIT).
 */
export async function main(argv: readonly string[], entrypoints: ServiceEntrypoints): Promise<ActionResult> {
  const result: { code: ActionResult } = { code: EXIT.ok }
  try {
    await createProgram(entrypoints, result).parseAsync([...argv])
    return result.code
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed the message or the help already.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT.ok : EXIT.usage
    }
    if (error instanceof CommandError) {
      process.stderr.write(`authtrail: ${error.message}\n`)
      if (error.exitCode === EXIT.usage) process.stderr.write('(add --help for usage)\n')
      return error.exitCode
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`)
      return EXIT.config
    }
    if (isDatabaseUnavailable(error)) {
      process.stderr.write(`authtrail: ${describeUnavailable(error)}\n`)
      return EXIT.unavailable
    }
    const e = error as { name?: string; message?: string; code?: string }
    if (error instanceof DataDirectoryLockedError) {
      process.stderr.write(`authtrail: ${e.message}\n`)
      return EXIT.locked
    }
    if (isInsufficientPrivilege(error)) {
      process.stderr.write(`authtrail: the database role connected may not do this (${e.message ?? '42501'}); see the command's --help for the connection it needs\n`)
      return EXIT.config
    }
    process.stderr.write(`authtrail: unexpected error: ${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}: ${e.message ?? String(error)}\n`)
    return EXIT.internal
  }
}
