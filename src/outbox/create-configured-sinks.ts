import { MongoClient } from 'mongodb'
import type { Env } from '../config/env.ts'
import type { DocumentStore } from '../sinks/docstore/document-store.ts'
import { createDocumentStoreSink } from '../sinks/docstore/docstore-sink.ts'
import { mongoClientOptions } from '../sinks/docstore/mongo-client-options.ts'
import { createMongoDocumentStore } from '../sinks/docstore/mongodb-store.ts'
import type { EventSink } from '../sinks/event-sink.ts'
import { createSyslogSink } from '../sinks/syslog/index.ts'

export type SinkSettings = Pick<Env, 'SYSLOG_URL' | 'SYSLOG_HOSTNAME' | 'SYSLOG_APP_NAME' | 'SYSLOG_TLS_CA' | 'SYSLOG_TLS_CERT' | 'SYSLOG_TLS_KEY' | 'MONGO_URL' | 'MONGO_DB' | 'MONGO_TLS_CA' | 'MONGO_TLS_CERT_KEY'>

/**
 * Builds the sinks the environment names: syslog from SYSLOG_URL (with the SYSLOG_TLS_* files for
 * `tls://` and `relp+tls://`, and the header's SYSLOG_HOSTNAME and SYSLOG_APP_NAME), the MongoDB document store from MONGO_URL/MONGO_DB. Nothing connects here: the syslog sink
 * connects on first delivery, and the document store sets up its indexes and validator before its first
 * delivery, retrying with the relay's backoff while MongoDB is unreachable, so one sink being down at
 * start-up never keeps the other from running.
 *
 * @example
 * const sinks = createConfiguredSinks(loadEnv(process.env))
 * const relay = createOutboxRelay({ sql, sinks })
 */
export function createConfiguredSinks(env: SinkSettings, options: { deviceVersion?: string; documentStore?: DocumentStore | null } = {}): EventSink[] {
  const sinks: EventSink[] = []
  if (env.SYSLOG_URL !== undefined) {
    const tlsGiven = env.SYSLOG_TLS_CA !== undefined || env.SYSLOG_TLS_CERT !== undefined || env.SYSLOG_TLS_KEY !== undefined
    sinks.push(
      createSyslogSink({
        url: env.SYSLOG_URL,
        hostname: env.SYSLOG_HOSTNAME,
        appName: env.SYSLOG_APP_NAME,
        tls: tlsGiven ? { caFile: env.SYSLOG_TLS_CA, certFile: env.SYSLOG_TLS_CERT, keyFile: env.SYSLOG_TLS_KEY } : undefined,
        device: options.deviceVersion === undefined ? undefined : { deviceVersion: options.deviceVersion },
      }),
    )
  }
  const store = options.documentStore ?? createConfiguredDocumentStore(env)
  if (store !== null) {
    sinks.push(withSetUpFirst(createDocumentStoreSink(store), () => store.ensureSchema()))
  }
  return sinks
}

/** The MongoDB document store MONGO_URL names, or null; nothing connects until it is used. */
export function createConfiguredDocumentStore(env: Pick<Env, 'MONGO_URL' | 'MONGO_DB' | 'MONGO_TLS_CA' | 'MONGO_TLS_CERT_KEY'>): DocumentStore | null {
  if (env.MONGO_URL === undefined) return null
  return createMongoDocumentStore(new MongoClient(env.MONGO_URL, mongoClientOptions(env)), { dbName: env.MONGO_DB })
}

/** Runs `setUp` (idempotent) before the first delivery, and again before the next one until it succeeds. */
function withSetUpFirst(sink: EventSink, setUp: () => Promise<void>): EventSink {
  let ready: Promise<void> | null = null
  return {
    name: sink.name,
    async deliver(batch) {
      ready ??= setUp().catch((error: unknown) => {
        ready = null
        throw error
      })
      await ready
      await sink.deliver(batch)
    },
    close: () => sink.close(),
  }
}
