/**
 * The honest baseline of the audit-overhead benchmark: a bare Hono server on the same HTTP stack as the
 * service (Hono on @hono/node-server, the same Node header limit) whose login route does only the argon2id
 * verify through the production hasher: parse the JSON body, verify against one PHC string, answer 200
 * or 401 as JSON. No database, no audit, no token. Run as its own process like the service.
 *
 * Environment: PORT, HOST, BENCH_HASH (the PHC string every account shares in the benchmark).
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { selectPasswordHasher } from '../../src/auth/select-password-hasher.ts'
import { MAX_HEADER_BYTES } from '../../src/http/limit-headers.ts'
import { serverPasswordHasherLoaders } from '../../src/runtime/password-hashers.ts'

const phc = process.env.BENCH_HASH!
const { hasher } = await selectPasswordHasher('native', serverPasswordHasherLoaders)

const app = new Hono()
app.get('/healthz', (c) => c.json({ status: 'ok' }))
app.post('/v1/auth/login', async (c) => {
  const body = (await c.req.json()) as { password?: unknown }
  if (typeof body.password !== 'string') return c.json({ title: 'password required' }, 400)
  return (await hasher.verify(phc, body.password)) ? c.json({ ok: true }, 200) : c.json({ title: 'invalid credentials' }, 401)
})

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: process.env.HOST ?? '127.0.0.1', serverOptions: { maxHeaderSize: 4 * MAX_HEADER_BYTES } }, (info) =>
  console.log(`bare login server on ${info.port}`),
)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
