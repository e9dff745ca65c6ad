// Compares the MongoDB copies of tenants' events with PostgreSQL: `check-copies --tenant <id|slug>... | --all`.
// Prints one line per tenant, naming missing, extra and altered documents; exits 1 if any tenant's copy
// diverges, 2 for an unknown tenant, 78 for bad configuration (DATABASE_URL and MONGO_URL are required).
import { MongoClient } from 'mongodb'
import { checkDocumentCopies } from '../audit/check-document-copies.ts'
import { ConfigError } from '../config/env.ts'
import { mongoClientOptions } from '../sinks/docstore/mongo-client-options.ts'
import { createMongoDocumentStore } from '../sinks/docstore/mongodb-store.ts'
import { loadCommandEnv, runCommand, withSql } from './run-command.ts'
import { parseTenantSelection, resolveTenants } from './tenant-selection.ts'

const USAGE = 'usage: check-copies (--tenant <uuid|slug>)... | --all'

await runCommand(async () => {
  const { tenants: names, all } = parseTenantSelection(USAGE)
  const env = loadCommandEnv('to compare the copies')
  if (env.MONGO_URL === undefined) throw new ConfigError('invalid configuration:\n  MONGO_URL: required to compare the copies')
  const store = createMongoDocumentStore(new MongoClient(env.MONGO_URL, mongoClientOptions(env)), { dbName: env.MONGO_DB })
  try {
    return await withSql(env.DATABASE_URL, async (sql) => {
      const { found, unknown } = await resolveTenants(sql, names, all)
      for (const name of unknown) console.log(`unknown tenant ${name}`)
      let diverged = 0
      for (const tenant of unknown.length ? [] : found) {
        const r = await checkDocumentCopies(sql, store, tenant.id)
        const head = `${r.consistent ? 'ok' : 'DIVERGED'} ${tenant.slug} (${tenant.id}): ${r.compared} compared, ${r.pending} not yet delivered`
        console.log(`${head}, ${r.missing.length} missing, ${r.extra.length} extra, ${r.altered.length} altered, ${r.expired.length} expired`)
        for (const m of r.missing) console.log(`  missing shard ${m.shard} seq ${m.seq} event ${m.eventId}`)
        for (const e of r.extra) console.log(`  extra shard ${e.shard} seq ${e.seq} event ${e.eventId}`)
        for (const a of r.altered) console.log(`  altered shard ${a.shard} seq ${a.seq} event ${a.eventId}: ${a.fields.join(', ')}`)
        if (!r.consistent) diverged++
      }
      return unknown.length ? 2 : diverged ? 1 : 0
    })
  } finally {
    await store.close()
  }
})
