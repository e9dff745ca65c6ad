// Re-delivers dead-lettered outbox events (`npm run redrive -- --sink docstore [--tenant <uuid>]
// [--event <uuid> ...] [--limit n]`), recording a dead_letters_redriven event (channel `system`) in each
// chain touched. Prints the result as JSON; exits 1 if some dead letters still fail.
import { parseArgs } from 'node:util'
import { ConfigError, loadEnv } from '../config/env.ts'
import { createSql } from '../db/client.ts'
import { createConfiguredSinks } from '../outbox/create-configured-sinks.ts'
import { redriveDeadLetters } from '../outbox/redrive-dead-letters.ts'
import { SINK_NAMES } from '../sinks/event-sink.ts'

const USAGE = `usage: redrive-dead-letters --sink ${SINK_NAMES.join('|')} [--tenant <uuid>] [--event <uuid>]... [--limit <n>]`

try {
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
  const env = loadEnv(process.env)
  if (env.DATABASE_URL === undefined) throw new ConfigError('invalid configuration:\n  DATABASE_URL: required to re-drive dead letters')
  const sink = createConfiguredSinks(env).find((s) => s.name === sinkName)
  if (sink === undefined) throw new ConfigError(`invalid configuration: sink ${sinkName} is not configured (set ${sinkName === 'syslog' ? 'SYSLOG_URL' : 'MONGO_URL'})`)

  const sql = createSql(env.DATABASE_URL, { max: 1 })
  try {
    const result = await redriveDeadLetters(sql, sinkName, sink, { tenantId: values.tenant, eventIds: values.event, limit }, { actor: { channel: 'system' } })
    console.log(JSON.stringify(result, null, 2))
    process.exitCode = result.failed.length > 0 ? 1 : 0
  } finally {
    await sink.close()
    await sql.end({ timeout: 5 })
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message)
    process.exit(78)
  }
  throw error
}
