/**
 * The bare-verification baseline of the login benchmarks, run as its own Node process like the service:
 * `count` argon2id verifications through a production hasher at OWASP parameters (native: the libuv pool;
 * wasm: the main thread), `concurrency` at a time, half with the right password. Prints one JSON line.
 *
 * Environment: BENCH_HASHER (native | wasm, default native), BENCH_HASH (a PHC string), BENCH_PASSWORD (its
 * password), BENCH_COUNT, BENCH_CONCURRENCY, BENCH_WARMUP (verifications before measuring).
 */
import { selectPasswordHasher } from '../../src/auth/select-password-hasher.ts'
import { serverPasswordHasherLoaders } from '../../src/runtime/password-hashers.ts'
import { runFixedCount } from './stats.ts'

const hash = process.env.BENCH_HASH!
const password = process.env.BENCH_PASSWORD!
const count = Number(process.env.BENCH_COUNT)
const concurrency = Number(process.env.BENCH_CONCURRENCY)
const warmup = Number(process.env.BENCH_WARMUP ?? 20)
const choice = process.env.BENCH_HASHER === 'wasm' ? 'wasm' : 'native'

const { hasher } = await selectPasswordHasher(choice, serverPasswordHasherLoaders)
const verifyOne = async (_client: number, i: number) => {
  const right = i % 2 === 0
  const ok = await hasher.verify(hash, right ? password : `${password}-wrong`)
  if (ok !== right) throw new Error('argon2id verification gave the wrong answer')
}
await runFixedCount(concurrency, warmup, verifyOne)
const cpu0 = process.cpuUsage()
const result = await runFixedCount(concurrency, count, verifyOne)
const cpu = process.cpuUsage(cpu0)
// CPU of the whole process (all libuv threads), per verification: what a login's hashing costs the machine.
process.stdout.write(`${JSON.stringify({ ...result, cpuMsPerOp: (cpu.user + cpu.system) / 1000 / result.ops })}\n`)
