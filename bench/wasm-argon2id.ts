import { createArgon2Hasher } from '../src/auth/argon2-hasher.ts'
import { freePort, spawnService } from '../test/support/spawn-service.ts'
import { startWorker, type RunningWorker } from '../test/support/workerd.ts'
import { createBenchDatabase } from './support/bench-database.ts'
import { LOGIN_CONCURRENCY, LOGIN_PASSWORD, measureLogins, runBareVerifications, seedLoginTenant, type LoginPhase, type LoginTarget } from './support/login-load.ts'
import { productionEnv } from './support/production-env.ts'
import { fmt, type Benchmark, type Figure } from './support/report.ts'

/**
 * What argon2id in WebAssembly costs a login, against the native hasher in the same run: HTTP logins on
 * the production Node entrypoint with PASSWORD_HASHER=native and =wasm, on Deno without --allow-ffi
 * (`npm run start:deno:wasm`, as on Deno Deploy), on the worker bundle in workerd
 * (Cloudflare's runtime, via miniflare: WebAssembly, one PostgreSQL connection per request), and bare
 * verifications of both hashers. Logins per second, and CPU per login from /proc.
 */
const NATIVE_CPU = 'native argon2id on Node, ms CPU/login'

export const wasmArgon2idBenchmark: Benchmark = {
  name: 'wasm-argon2id',
  title: 'Logins with argon2id in WebAssembly (Node, Deno, workerd) against native',
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 10
    const warmup = ctx.quick ? 16 : 40
    const db = await createBenchDatabase('wasm_argon2id')
    // Written by the native hasher: the WebAssembly runs verify what native wrote (and check every answer).
    const phc = await createArgon2Hasher().hash(LOGIN_PASSWORD)
    try {
      await seedLoginTenant(db.sql, 'shop', phc, 'open')
      const phase = (target: LoginTarget, perRequestConnections = false) =>
        measureLogins(target, { database: db.name, slug: 'shop', mode: 'alternating', seconds, warmup, perRequestConnections })

      const onServer = async (runtime: 'node' | 'deno-wasm', hasher: 'native' | 'wasm'): Promise<LoginPhase> => {
        const port = await freePort()
        const service = spawnService(runtime, productionEnv(db.url, { HOST: '127.0.0.1', PORT: String(port), RELAY_ENABLED: 'false', PASSWORD_HASHER: hasher }))
        try {
          await service.waitForHealthy(`http://127.0.0.1:${port}`, 120_000)
          const pid = service.child.pid!
          return await phase({ port, pids: () => [pid] })
        } finally {
          await service.stop()
        }
      }
      const onWorkerd = async (): Promise<LoginPhase> => {
        let worker: RunningWorker | null = null
        try {
          worker = await startWorker(productionEnv(db.url, { PASSWORD_HASHER: 'wasm' }))
          const port = Number(new URL(worker.baseUrl).port)
          const w = worker
          return await phase({ port, pids: () => [w.workerdPid()].filter((p): p is number => p !== null) }, true)
        } finally {
          await worker?.dispose()
        }
      }

      const log = (label: string, p: LoginPhase) =>
        ctx.log(`  ${label}: ${fmt(p.run.rate)} logins/s, p50 ${fmt(p.run.latency.p50)} ms (CPU per login: service ${fmt(p.serviceCpuMs)} ms, PostgreSQL ${fmt(p.pgCpuMs)} ms)`)
      const native = await onServer('node', 'native')
      log('Node, native argon2id', native)
      const wasm = await onServer('node', 'wasm')
      log('Node, WebAssembly argon2id', wasm)
      const deno = await onServer('deno-wasm', 'wasm')
      log('Deno without --allow-ffi, WebAssembly argon2id', deno)
      const workerd = await onWorkerd()
      log('workerd, WebAssembly argon2id', workerd)
      const bareNative = await runBareVerifications('native', phc, native.run.ops, warmup)
      const bareWasm = await runBareVerifications('wasm', phc, wasm.run.ops, warmup)
      ctx.log(`  bare verifications: native ${fmt(bareNative.rate)}/s (${fmt(bareNative.cpuMsPerOp)} ms CPU), WebAssembly ${fmt(bareWasm.rate)}/s (${fmt(bareWasm.cpuMsPerOp)} ms CPU)`)

      const total = (p: LoginPhase) => p.serviceCpuMs + p.pgCpuMs
      const against = (name: string, value: number, unit: string, baselineName: string, baseline: number): Figure => ({
        name,
        value,
        unit,
        baseline: { name: baselineName, value: baseline },
        ratio: value / baseline,
      })
      const row = (label: string, p: LoginPhase) => [
        label,
        p.run.rate,
        p.run.latency.p50,
        p.run.latency.p99,
        `${(p.run.rate / native.run.rate).toFixed(2)}×`,
        p.serviceCpuMs,
        p.pgCpuMs,
        total(p),
      ]
      return {
        tables: [
          {
            title: `HTTP logins for ${seconds} s each, alternating right and wrong passwords, ${LOGIN_CONCURRENCY} in flight; latency in ms; CPU ms per login`,
            columns: ['path', 'logins/s', 'p50', 'p99', 'vs native', 'CPU: service', 'PostgreSQL', 'total'],
            rows: [
              row('Node, native argon2id (@node-rs/argon2)', native),
              row('Node, WebAssembly argon2id (PASSWORD_HASHER=wasm)', wasm),
              row('Deno without --allow-ffi (start:deno:wasm), WebAssembly argon2id', deno),
              row('workerd (miniflare), WebAssembly argon2id, a connection per request', workerd),
            ],
          },
          {
            title: 'Bare verifications (the same counts, same concurrency, a fresh Node process each)',
            columns: ['hasher', 'verifications/s', 'p50', 'CPU ms each'],
            rows: [
              ['native (@node-rs/argon2, libuv pool)', bareNative.rate, bareNative.latency.p50, bareNative.cpuMsPerOp],
              ['WebAssembly (argon2id package, main thread)', bareWasm.rate, bareWasm.latency.p50, bareWasm.cpuMsPerOp],
            ],
          },
        ],
        figures: [
          against('logins with WebAssembly argon2id (Node)', wasm.run.rate, 'logins/s', 'native argon2id logins/s on Node', native.run.rate),
          against('CPU per login with WebAssembly argon2id (Node)', total(wasm), 'ms CPU/login', NATIVE_CPU, total(native)),
          against('CPU per login on Deno without native code', total(deno), 'ms CPU/login', NATIVE_CPU, total(native)),
          against('logins on workerd (WebAssembly argon2id)', workerd.run.rate, 'logins/s', 'native argon2id logins/s on Node', native.run.rate),
          against('CPU per login on workerd', total(workerd), 'ms CPU/login', NATIVE_CPU, total(native)),
          against('WebAssembly argon2id verification', bareWasm.cpuMsPerOp, 'ms CPU', 'native verification, ms CPU', bareNative.cpuMsPerOp),
        ],
        notes: [
          'All four services verify the same native-written hash (m=19456 KiB, t=2, p=1) for 499 accounts whose lockout threshold is raised; every answer is checked (200 or 401). The Node and Deno services are the production entrypoints started by their package.json commands (AUTHTRAIL_ENV=production, relay off); the worker is the bundle `npm run build:worker` builds, run by workerd from npm with wrangler.json\'s compatibility settings.',
          'WebAssembly argon2id runs on the thread that serves requests (the event loop in Node, the isolate in workerd): one hash at a time per process, so its logins/s is about 1 ÷ (hash + request) however many are in flight, where the native hasher spreads over the libuv pool and both cores.',
          'CPU: the service process (all threads: Node, Deno) or the workerd process, and the PostgreSQL backends of the benchmark database, from /proc. On workerd each login opens and closes its own connection (as on Cloudflare without Hyperdrive): those backends are sampled every 10 ms and counted from birth, so connection set-up is included. workerd here runs on the same two cores as PostgreSQL and the load generator; on Cloudflare the CPU-time limit applies to the worker\'s own CPU (the "service" column).',
        ],
        details: { native, wasm, deno, workerd, bareNative, bareWasm },
      }
    } finally {
      await db.drop()
    }
  },
}
