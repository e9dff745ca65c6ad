import type { Context } from 'hono'
import { loadEnv } from '../config/env.ts'
import { runCommand } from '../cli/run-command.ts'
import type { PasswordHasherLoaders } from '../auth/select-password-hasher.ts'
import { bootServices, developmentBanner } from './boot.ts'
import { exitOnStartUpFailure } from './start-up-failure.ts'
import { serverPasswordHasherLoaders } from './password-hashers.ts'

// Deno entrypoint: validate configuration, wire, serve. Nothing else lives here.

/**
 * The peer address as Deno's server sees it. `app.fetch(request, info)` makes the handler info the
 * context's env; read directly rather than through `hono/deno`, which hono deprecates for removal in v5.
 */
function denoPeerAddress(c: Context): string | null {
  const info = c.env as Deno.ServeHandlerInfo<Deno.NetAddr> | undefined
  return info?.remoteAddr.hostname ?? null
}

/**
 * Native argon2id is a Node-API module, which Deno loads only with --allow-ffi. Without it (as on Deno
 * Deploy, or `npm run start:deno:wasm`) the native loader is not even tried, so that Deno never prompts for
 * the permission; PASSWORD_HASHER=auto then uses WebAssembly.
 */
function denoPasswordHasherLoaders(): PasswordHasherLoaders {
  if (Deno.permissions.querySync({ name: 'ffi' }).state === 'granted') return serverPasswordHasherLoaders
  return { ...serverPasswordHasherLoaders, native: () => Promise.reject(new Error('Deno runs without --allow-ffi')) }
}

await runCommand(async () => {
  const env = loadEnv(Deno.env.toObject())
  const services = await bootServices(env, denoPeerAddress, {}, { hasherLoaders: denoPasswordHasherLoaders() }).catch(exitOnStartUpFailure)
  const server = Deno.serve(
    {
      port: env.PORT,
      hostname: env.HOST,
      onListen: ({ port }) => {
        console.log(env.AUTHTRAIL_ENV === 'development' ? developmentBanner(port, env.HOST, services) : `authtrail listening on ${env.HOST}:${port} (deno)`)
      },
    },
    (request, info) => services.app.fetch(request, info),
  )
  const metricsApp = services.metricsApp
  const metricsServer = metricsApp ? Deno.serve({ port: env.METRICS_PORT, hostname: env.METRICS_HOST ?? env.HOST }, (request) => metricsApp.fetch(request)) : null
  const shutdown = () => {
    services.endStreams()
    void metricsServer?.shutdown()
    void server.shutdown().then(() => services.close()).then(() => Deno.exit(0))
  }
  Deno.addSignalListener('SIGTERM', shutdown)
  Deno.addSignalListener('SIGINT', shutdown)
})
