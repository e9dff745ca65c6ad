#!/usr/bin/env node
// `authtrail` (`npx authtrail --help`): the project's one command. Runs the TypeScript sources through
// tsx, as `npm start` does; the service's entrypoint is wired here, above the commands.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/authtrail.ts')
const code = await main(process.argv, { serve: () => import('../src/runtime/node.ts') })
if (code !== 'running') process.exitCode = code
