import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { MongoClient } from 'mongodb'
import { checkDocumentCopies, type CopyCheckReport } from '../../audit/check-document-copies.ts'
import { CheckpointKeyError, createCheckpointVerifier, parsePublishedKeys } from '../../audit/checkpoint-keys.ts'
import type { TenantVerification } from '../../audit/verify-tenant-chain.ts'
import { checkpointsInCefLines } from '../../core/checkpoint.ts'
import { ConfigError } from '../../config/env.ts'
import { createConfiguredDocumentStore } from '../../outbox/create-configured-sinks.ts'
import { mongoClientOptions } from '../../sinks/docstore/mongo-client-options.ts'
import { createMongoDocumentStore } from '../../sinks/docstore/mongodb-store.ts'
import { checkpointKeysFromEnvironment } from '../checkpoint-key.ts'
import { collect, commandEnv, emit, type ActionResult, withCommandDatabase } from '../command-context.ts'
import { EXIT, usageError } from '../exit-codes.ts'
import { createProgress, type Progress } from '../progress.ts'
import { resolveTenants } from '../tenant-selection.ts'
import { runVerifyChain, VERIFY_EXIT } from '../verify-chain-command.ts'

type Run = (action: (...args: never[]) => Promise<ActionResult>) => (...args: unknown[]) => Promise<void>

interface Selection {
  tenant?: string[]
  all?: boolean
  json?: boolean
}

/** `--tenant <slug|id>` (repeatable) or `--all`: exactly one of the two. */
function addSelection(command: Command): Command {
  return command
    .option('--tenant <tenant>', 'a tenant by slug or id (repeat for several)', collect)
    .option('--all', 'every tenant')
    .option('--json', 'print the result as JSON')
}

function selectionOf(options: Selection): { tenants: string[]; all: boolean } {
  const tenants = options.tenant ?? []
  if ((tenants.length === 0) === !options.all) throw usageError('give --tenant <tenant> (repeatable) or --all, not both')
  return { tenants, all: options.all ?? false }
}

async function readArgumentFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw usageError(`${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

export function registerCheckCommands(program: Command, run: Run): void {
  addSelection(
    program
      .command('verify')
      .description('recompute the hash chains from PostgreSQL against their signed checkpoints; exit 1 naming the first broken sequence number')
      .option('--keys <file>', 'the public keys to trust (a saved GET /v1/audit/keys); default: the configured checkpoint keys')
      .option('--docstore', "also compare with the document store's checkpoint copies (MONGO_URL)")
      .option('--siem-file <file>', 'also compare with the checkpoints in a file of CEF lines a SIEM received'),
  ).action(
    run(async (options: Selection & { keys?: string; docstore?: boolean; siemFile?: string }) => {
      const { tenants, all } = selectionOf(options)
      const env = commandEnv()
      let verifier
      if (options.keys !== undefined) {
        try {
          verifier = await createCheckpointVerifier(parsePublishedKeys(await readArgumentFile('--keys', options.keys)))
        } catch (error) {
          if (error instanceof CheckpointKeyError) throw usageError(`--keys: ${error.message}`)
          throw error
        }
      } else {
        verifier = (await checkpointKeysFromEnvironment(env)).verifier
      }
      const siemCheckpoints = options.siemFile === undefined ? null : checkpointsInCefLines((await readArgumentFile('--siem-file', options.siemFile)).split('\n'))
      if (options.docstore && env.MONGO_URL === undefined) throw new ConfigError('invalid configuration:\n  MONGO_URL: required by --docstore')
      const documentStore = options.docstore ? createConfiguredDocumentStore(env) : null
      const results: { tenant: { id: string; slug: string }; result: TenantVerification }[] = []
      const lines: string[] = []
      let progress: Progress | null = null
      try {
        const code = await withCommandDatabase(env, ({ sql }) =>
          runVerifyChain(sql, { tenants, all, verifier, documentStore, siemCheckpoints }, (line) => lines.push(line), {
            onStart: (events) => (progress = createProgress('verify', 'events', events)),
            onVerified: (n) => progress?.increment(n),
            onResult: (tenant, result) => results.push({ tenant, result }),
          }),
        )
        ;(progress as Progress | null)?.stop()
        if (code === VERIFY_EXIT.unknownTenant) throw usageError(lines.join('\n'))
        emit(options.json, { ok: code === 0, tenants: results.map((r) => ({ id: r.tenant.id, slug: r.tenant.slug, ...r.result })) }, lines)
        return code
      } finally {
        ;(progress as Progress | null)?.stop()
        await documentStore?.close()
      }
    }),
  )

  addSelection(
    program.command('check-copies').description("compare the document store's copies (MONGO_URL) with PostgreSQL: missing, extra and altered events; exit 1 if any diverge"),
  ).action(
    run(async (options: Selection) => {
      const { tenants: names, all } = selectionOf(options)
      const env = commandEnv()
      if (env.MONGO_URL === undefined) throw new ConfigError('invalid configuration:\n  MONGO_URL: required to compare the copies')
      const store = createMongoDocumentStore(new MongoClient(env.MONGO_URL, mongoClientOptions(env)), { dbName: env.MONGO_DB })
      let progress: Progress | null = null
      try {
        return await withCommandDatabase(env, async ({ sql }) => {
          const { found, unknown } = await resolveTenants(sql, names, all)
          if (unknown.length > 0) throw usageError(unknown.map((n) => `unknown tenant ${n}`).join('\n'))
          const [delivered] = await sql<{ events: number }[]>`
            SELECT coalesce(sum(delivered_seq), 0)::int8 AS events FROM outbox_cursors
            WHERE sink = 'docstore' AND tenant_id IN ${sql(found.length ? found.map((t) => t.id) : ['00000000-0000-0000-0000-000000000000'])}`
          progress = createProgress('check-copies', 'events', delivered?.events ?? 0)
          const reports: { tenant: { id: string; slug: string }; report: CopyCheckReport }[] = []
          for (const tenant of found) reports.push({ tenant, report: await checkDocumentCopies(sql, store, tenant.id, new Date(), (n) => progress?.increment(n)) })
          progress.stop()
          const lines = reports.flatMap(({ tenant, report: r }) => [
            `${r.consistent ? 'ok' : 'DIVERGED'} ${tenant.slug} (${tenant.id}): ${r.compared} compared, ${r.pending} not yet delivered, ${r.missing.length} missing, ${r.extra.length} extra, ${r.altered.length} altered, ${r.expired.length} expired`,
            ...r.missing.map((m) => `  missing shard ${m.shard} seq ${m.seq} event ${m.eventId}`),
            ...r.extra.map((e) => `  extra shard ${e.shard} seq ${e.seq} event ${e.eventId}`),
            ...r.altered.map((a) => `  altered shard ${a.shard} seq ${a.seq} event ${a.eventId}: ${a.fields.join(', ')}`),
          ])
          const consistent = reports.every((r) => r.report.consistent)
          emit(options.json, { consistent, tenants: reports.map((r) => ({ id: r.tenant.id, slug: r.tenant.slug, ...r.report })) }, lines)
          return consistent ? EXIT.ok : EXIT.checkFailed
        })
      } finally {
        ;(progress as Progress | null)?.stop()
        await store.close()
      }
    }),
  )
}

