// Re-delivers dead-lettered outbox events (`npm run redrive -- --sink docstore [--tenant <uuid>]
// [--event <uuid> ...] [--limit n]`), recording a dead_letters_redriven event (channel `system`) in each
// chain touched. Prints the result as JSON; exits 1 if some dead letters still fail.
import { parseArgs } from 'node:util'
import { ConfigError } from '../config/env.ts'
import { createConfiguredSinks } from '../outbox/create-configured-sinks.ts'
import { redriveDeadLetters } from '../admin/redrive-dead-letters.ts'
import { SINK_NAMES } from '../sinks/event-sink.ts'
import { loadCommandEnv, runCommand, withSql } from './run-command.ts'

const USAGE = `usage: redrive-dead-letters --sink ${SINK_NAMES.join('|')} [--tenant <uuid>] [--event <uuid>]... [--limit <n>]`

await runCommand(async () => {
  const { values } = parseArgs({
    options: {
      sink: { type: 'string' },
      tenant: { type: 'string' },
      event: { type: 'string', multiple: true },
      limit: { type: 'string' },
    },
  })
  const sinkName = values.sink
  const limit = values.limit === undefined ? undefined : Number(values.limit)
  if (sinkName === undefined || !(SINK_NAMES as readonly string[]).includes(sinkName) || (limit !== undefined && !(Number.isInteger(limit) && limit > 0))) {
    throw new ConfigError(USAGE)
  }
  const env = loadCommandEnv('to re-drive dead letters')
  const sink = createConfiguredSinks(env).find((s) => s.name === sinkName)
  if (sink === undefined) throw new ConfigError(`invalid configuration: sink ${sinkName} is not configured (set ${sinkName === 'syslog' ? 'SYSLOG_URL' : 'MONGO_URL'})`)

  try {
    const result = await withSql(env.DATABASE_URL, (sql) =>
      redriveDeadLetters(sql, sinkName, sink, { tenantId: values.tenant, eventIds: values.event, limit }, { actor: { channel: 'system' } }),
    )
    console.log(JSON.stringify(result, null, 2))
    return result.failed.length > 0 ? 1 : 0
  } finally {
    await sink.close()
  }
})
