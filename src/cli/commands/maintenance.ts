import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Option, type Command } from 'commander'
import { countExportedEvents, exportAuditTrail } from '../../admin/export-audit-trail.ts'
import { EXPORT_FORMATS, EXPORT_MEDIA, type ExportFormat } from '../../admin/export-formats.ts'
import type { PurgeResult } from '../../admin/purge-expired-events.ts'
import { redriveDeadLetters, type RedriveResult } from '../../admin/redrive-dead-letters.ts'
import { ConfigError } from '../../config/env.ts'
import type { Sql } from '../../db/client.ts'
import { SINK_NAMES, type SinkName } from '../../sinks/event-sink.ts'
import { SERVICE_VERSION } from '../../version.ts'
import { checkpointKeysFromEnvironment } from '../checkpoint-key.ts'
import { commandSinks } from '../command-sinks.ts'
import { collect, commandActor, commandEnv, emit, instant, integerFrom, tenantNamed, uuid, withCommandDatabase, type ActionResult } from '../command-context.ts'
import { EXIT, refused, usageError } from '../exit-codes.ts'
import { createProgress, type Progress } from '../progress.ts'
import { runPurgeRetention } from '../purge-retention-command.ts'

type Run = (action: (...args: never[]) => Promise<ActionResult>) => (...args: unknown[]) => Promise<void>

/** Counts the lines going through: one per event in every format (plus CSV's header). */
function countLines(onLines: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let n = 0
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++
      onLines(n)
      done(null, chunk)
    },
  })
}

export function registerMaintenanceCommands(program: Command, run: Run): void {
  program
    .command('export')
    .description("export a tenant's events in a time range (records audit_exported; refused, and audited, when the plan has no downloads)")
    .addOption(new Option('--tenant <tenant>', 'slug or id').makeOptionMandatory())
    .addOption(new Option('--format <format>', 'file format').choices(EXPORT_FORMATS).default('ndjson'))
    .option('--from <instant>', 'first instant, inclusive (default: the oldest retained event)', instant)
    .option('--to <instant>', 'last instant, exclusive (default: now)', instant)
    .option('--output <file>', 'where to write; "-" for standard output (default: authtrail-<tenant>-<first event>.<format> here)')
    .option('--json', 'print the result as JSON')
    .action(
      run(async (options: { tenant: string; format: ExportFormat; from?: Date; to?: Date; output?: string; json?: boolean }) => {
        const env = commandEnv()
        const to = options.to ?? new Date()
        if (options.from && to.getTime() <= options.from.getTime()) throw usageError('--to: must be later than --from')
        return withCommandDatabase(env, async ({ sql }) => {
          const tenant = await tenantNamed(sql, options.tenant)
          const actor = await commandActor(sql)
          const scope = { tenantId: tenant.id, organisationId: null }
          const expected = await countExportedEvents(sql, scope, { from: options.from, to })
          const result = await exportAuditTrail(
            { sql, clock: () => to, cefDevice: { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: SERVICE_VERSION } },
            { tenant, scope, format: options.format, from: options.from, to, actor },
          )
          if (result.kind === 'download_not_allowed') throw refused(`the plan of ${tenant.slug} does not include downloads (refusal recorded as event ${result.eventId}); tenant update --can-download allows them`)
          const file = options.output ?? result.fileName
          let lines = 0
          const progress = createProgress('export', 'lines', expected + (options.format === 'csv' ? 1 : 0))
          const counter = countLines((n) => {
            lines += n
            progress.increment(n)
          })
          const source = Readable.fromWeb(result.body as import('node:stream/web').ReadableStream<Uint8Array>)
          try {
            if (file === '-') {
              await pipeline(source, counter, process.stdout, { end: false })
            } else {
              // Written aside and renamed at the end: a file under the final name is always complete.
              await pipeline(source, counter, createWriteStream(`${file}.partial`, { flags: 'wx' }))
              await rename(`${file}.partial`, file)
            }
          } catch (error) {
            if (file !== '-') await rm(`${file}.partial`, { force: true })
            if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw usageError(`--output: ${file}.partial exists (another export running?)`)
            throw error
          } finally {
            progress.stop()
          }
          const events = options.format === 'csv' ? lines - 1 : lines
          const summary = { file: file === '-' ? null : file, format: options.format, events, from: result.from?.toISOString() ?? null, to: to.toISOString(), event_id: result.eventId }
          if (file === '-') process.stderr.write(`exported ${events} events of ${tenant.slug}; event audit_exported ${result.eventId}\n`)
          else emit(options.json, summary, [`exported ${events} events of ${tenant.slug} to ${file}`, `event audit_exported ${result.eventId}`])
          return 0
        })
      }),
    )

  program
    .command('purge')
    .description('delete expired events, leaving signed checkpoints so what remains still verifies (records retention_purged)')
    .option('--tenant <tenant>', 'a tenant by slug or id (repeat for several)', collect)
    .option('--all', 'every tenant')
    .option('--before <instant>', 'purge events that expired before this instant, at the latest now (default: now)', instant)
    .option('--json', 'print the result as JSON')
    .action(
      run(async (options: { tenant?: string[]; all?: boolean; before?: Date; json?: boolean }) => {
        const tenants = options.tenant ?? []
        if ((tenants.length === 0) === !options.all) throw usageError('give --tenant <tenant> (repeatable) or --all, not both')
        const env = commandEnv()
        const { signer } = await checkpointKeysFromEnvironment(env)
        // The retention role's connection: the only role that may execute the purge.
        return withCommandDatabase(
          env,
          async ({ sql }) => {
            const [clock] = await sql<{ now: Date }[]>`SELECT now() AS now`
            const now = clock!.now
            // The database never purges what has not expired yet: a later --before is refused, not quietly cut to now.
            if (options.before && options.before.getTime() > now.getTime()) {
              throw usageError(`--before ${options.before.toISOString()} is later than now (${now.toISOString()} by the database's clock): events that have not expired are never purged; leave --before out to purge everything expired until now`)
            }
            const before = options.before ?? now
            const lines: string[] = []
            const results: (PurgeResult & { tenant: { id: string; slug: string } })[] = []
            let progress: Progress | null = null
            try {
              const code = await runPurgeRetention(sql, { tenants, all: options.all ?? false, before, signer }, (line) => lines.push(line), () => new Date(), {
                onStart: (n) => (progress = createProgress('purge', 'tenants', n)),
                onResult: (tenant, result) => {
                  results.push({ tenant: { id: tenant.id, slug: tenant.slug }, ...result })
                  progress?.increment(1)
                },
              })
              ;(progress as Progress | null)?.stop()
              if (code !== 0) throw usageError(lines.join('\n'))
              emit(options.json, { before: before.toISOString(), tenants: results }, lines)
              return EXIT.ok
            } finally {
              ;(progress as Progress | null)?.stop()
            }
          },
          env.RETENTION_DATABASE_URL ? { variable: 'RETENTION_DATABASE_URL', value: env.RETENTION_DATABASE_URL } : { variable: 'DATABASE_URL', value: env.DATABASE_URL },
        )
      }),
    )

  program
    .command('redrive')
    .description('deliver dead-lettered events to a sink again (records dead_letters_redriven); exit 1 if some still fail')
    .addOption(new Option('--sink <sink>', 'the sink whose dead letters to re-deliver').choices(SINK_NAMES).makeOptionMandatory())
    .option('--tenant <tenant>', "only this tenant's (slug or id)")
    .option('--event <id>', 'only this event (repeat for several)', (value: string, previous: string[] | undefined) => collect(uuid(value), previous))
    .option('--limit <n>', 'at most this many (default: all)', integerFrom(1, 10_000_000))
    .option('--json', 'print the result as JSON')
    .action(
      run(async (options: { sink: SinkName; tenant?: string; event?: string[]; limit?: number; json?: boolean }) => {
        const env = commandEnv()
        const sink = commandSinks(env).find((s) => s.name === options.sink)
        if (sink === undefined) throw new ConfigError(`invalid configuration:\n  ${options.sink === 'syslog' ? 'SYSLOG_URL' : 'MONGO_URL'}: required to re-drive the ${options.sink} sink's dead letters`)
        let progress: Progress | null = null
        try {
          return await withCommandDatabase(env, async ({ sql }) => {
            const tenantId = options.tenant === undefined ? undefined : (await tenantNamed(sql, options.tenant)).id
            const actor = await commandActor(sql)
            const [pending] = await sql<{ n: number }[]>`
              SELECT count(*)::int8 AS n FROM outbox_dead_letters
              WHERE sink = ${options.sink} AND redriven_at IS NULL
                ${tenantId === undefined ? sql`` : sql`AND tenant_id = ${tenantId}`}
                ${options.event === undefined ? sql`` : sql`AND event_id IN ${sql(options.event)}`}`
            const wanted = Math.min(pending?.n ?? 0, options.limit ?? Number.MAX_SAFE_INTEGER)
            progress = createProgress('redrive', 'events', wanted)
            const total: RedriveResult = { redriven: [], failed: [], auditEventIds: [] }
            // In batches, each its own transaction and audit event; stops at the first batch with a failure
            // (those stay dead letters and would only be tried again).
            while (total.redriven.length + total.failed.length < wanted) {
              const limit = Math.min(500, wanted - total.redriven.length - total.failed.length)
              const batch = await redriveDeadLetters(sql, options.sink, sink, { tenantId, eventIds: options.event, limit }, { actor: { channel: 'system', actorId: actor.userId } })
              total.redriven.push(...batch.redriven)
              total.failed.push(...batch.failed)
              total.auditEventIds.push(...batch.auditEventIds)
              progress.increment(batch.redriven.length + batch.failed.length)
              if (batch.failed.length > 0 || batch.redriven.length === 0) break
            }
            progress.stop()
            emit(options.json, total, [
              `re-delivered ${total.redriven.length} dead letters to ${options.sink}${total.failed.length ? `; ${total.failed.length} still failing` : ''}`,
              ...total.failed.map((f) => `  still failing ${f.eventId}: ${f.error}`),
              ...total.auditEventIds.map((id) => `event dead_letters_redriven ${id}`),
            ])
            return total.failed.length > 0 ? EXIT.checkFailed : EXIT.ok
          })
        } finally {
          ;(progress as Progress | null)?.stop()
          await sink.close()
        }
      }),
    )
}
