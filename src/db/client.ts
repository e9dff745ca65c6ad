import type { ConnectionOptions } from 'node:tls'
import postgres from 'postgres'
import { assertBeforeRequestDeadline, trackWrite } from './request-deadline.ts'

/** The SQL client type used across adapters (porsager `postgres`). */
export type Sql = postgres.Sql<{}>
/** A transaction handle, as given by `sql.begin`. */
export type Tx = postgres.TransactionSql<{}>

/** How long the database may take before a request fails closed (DATABASE_*_TIMEOUT_MS); 0 disables one. */
export interface DatabaseTimeouts {
  /** Establishing a connection. */
  connectMs: number
  /** One statement (PostgreSQL statement_timeout). */
  statementMs: number
  /** Waiting for a row or table lock (lock_timeout). */
  lockMs: number
  /** A transaction left open with nothing running (idle_in_transaction_session_timeout). */
  idleInTransactionMs: number
}

/** TLS to the server, as postgres.js takes it: off, one of its modes, or node:tls options (see tls-options.ts). */
export type DatabaseSsl = false | 'allow' | 'prefer' | 'require' | ConnectionOptions

export interface SqlOptions {
  max?: number
  /** Built from the URL's libpq parameters by `databaseTarget`; by default postgres.js reads sslmode itself. */
  ssl?: DatabaseSsl
  timeouts?: DatabaseTimeouts
  /** Silences server NOTICE messages (migrations emit some). */
  quiet?: boolean
}

/**
 * Seconds before a lost connection of the pool may connect again, `retries` being postgres.js's count of
 * connections closed by an error since the last successful connect, shared by the whole pool. postgres.js's
 * own default (`(0.5 + random / 2) × min(3^retries / 100, 20)`) reads that count as one connection's
 * consecutive failures, but a network reset closes every connection at once and counts each: after one
 * reset of a pool of ten, the last connections to close waited 10 to 20 s before connecting again, and a
 * query given one of them (the look-up of a write whose connection was lost, typically) waited with it,
 * past the request's bound. Capped at a quarter of a second, with jitter (half to all of it): a pool of
 * ten then tries at most about eighty connects a second while the server is down, and recovers within
 * the bound once it is back.
 */
export function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.01 * 2 ** retries, 0.25) * (0.5 + Math.random() / 2)
}

/**
 * Creates the PostgreSQL client. Every query in authtrail goes through its tagged templates, so every
 * value is a bound parameter.
 *
 * @example
 * const sql = createSql('postgres://127.0.0.1:5432/authtrail')
 * const [row] = await sql`select 1 as one`
 */
export function createSql(url: string, options: SqlOptions = {}): Sql {
  const sql = postgres(url, {
    max: options.max ?? 10,
    backoff: reconnectDelaySeconds,
    ...(options.ssl !== undefined && { ssl: options.ssl }),
    onnotice: options.quiet === false ? undefined : () => {},
    connection: {
      application_name: 'authtrail',
      ...(options.timeouts && {
        statement_timeout: options.timeouts.statementMs,
        lock_timeout: options.timeouts.lockMs,
        idle_in_transaction_session_timeout: options.timeouts.idleInTransactionMs,
      }),
    },
    ...(options.timeouts?.connectMs && { connect_timeout: Math.max(1, Math.ceil(options.timeouts.connectMs / 1000)) }),
    types: {
      // int8 values (sequence numbers, counters) stay below 2^53; read them as numbers.
      bigint: { to: 20, from: [20], serialize: (x: number | bigint) => String(x), parse: (x: string) => Number(x) },
    },
  }) as unknown as Sql
  return commitOnlyBeforeRequestDeadline(sql)
}

/**
 * Every transaction checks its request's deadline (see request-deadline.ts) before it begins and again
 * just before it commits, and rolls back once the request has been answered 503: nothing an answered
 * request did commits afterwards. Outside a request (relay, commands) there is no deadline to check.
 */
function commitOnlyBeforeRequestDeadline(sql: Sql): Sql {
  const begin = sql.begin.bind(sql) as (...args: unknown[]) => Promise<unknown>
  const checkedBegin = (...args: unknown[]) => {
    const body = args.pop() as (tx: Tx) => unknown
    assertBeforeRequestDeadline()
    let committing = () => {}
    const transaction = begin(...args, async (tx: Tx) => {
      const result = body(tx)
      const settled = await (Array.isArray(result) ? Promise.all(result) : result)
      assertBeforeRequestDeadline()
      committing()
      return settled
    })
    // From here on the COMMIT is on its way: its outcome, not the deadline, says whether the work stands.
    committing = () => void trackWrite(transaction)
    return transaction
  }
  return Object.assign(sql, { begin: checkedBegin as unknown as Sql['begin'] })
}
