import { ConfigError } from '../config/env.ts'

/**
 * Runs a service entrypoint (node.ts, bun.ts, deno.ts): the exit code it returns becomes the process's; a ConfigError
 * (invalid configuration) prints its message, which names the variable, and exits 78 (EX_CONFIG).
 *
 * @example
 * await runCommand(async () => (await check()) ? 0 : 1)
 */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body()
    if (typeof code === 'number') process.exitCode = code
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(78)
    }
    throw error
  }
}
