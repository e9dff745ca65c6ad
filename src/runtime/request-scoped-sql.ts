import { AsyncLocalStorage } from 'node:async_hooks'
import type { Sql } from '../db/client.ts'

/**
 * A `Sql` whose every use goes to the client of the request being served.
 *
 * On Cloudflare Workers a socket belongs to the request that opened it: another request using it fails
 * ("Cannot perform I/O on behalf of a different request"), so a pool cannot outlive a request. The
 * application, built once per isolate, holds this stand-in; each request runs inside `run(client, …)` with
 * its own one-connection client, which the caller closes when the response is done. Every call (tagged
 * template, `begin`, helpers) is forwarded unchanged: there is no pooling or caching here.
 *
 * @example
 * const scoped = createRequestScopedSql()
 * const app = createApp({ sql: scoped.sql, ... })
 * const response = await scoped.run(createSql(url, { max: 1 }), () => app.fetch(request))
 */
export function createRequestScopedSql(): { sql: Sql; run<T>(client: Sql, body: () => Promise<T>): Promise<T> } {
  const storage = new AsyncLocalStorage<Sql>()
  const current = (): Sql => {
    const client = storage.getStore()
    if (client === undefined) throw new Error('no database client: SQL used outside a request')
    return client
  }
  const sql = new Proxy(function requestScopedSql() {} as unknown as Sql, {
    apply: (_target, _this, args: unknown[]) => (current() as unknown as (...a: unknown[]) => unknown)(...args),
    get: (_target, property) => Reflect.get(current(), property),
  })
  return { sql, run: (client, body) => storage.run(client, body) }
}
