/**
 * The baseline of benchmark 2, run as its own Node process like the service: `count` argon2id
 * verifications through the production hasher (`createArgon2Hasher`, OWASP parameters, the libuv pool),
 * `concurrency` at a time, half with the right password. Prints one JSON line with the result.
 *
 * Environment: BENCH_HASH (a PHC string), BENCH_PASSWORD (its password), BENCH_COUNT, BENCH_CONCURRENCY,
 * BENCH_WARMUP (verifications before measuring).
 */
import { createArgon2Hasher } from '../../src/auth/argon2-hasher.ts'
import { runFixedCount } from './stats.ts'

const hash = process.env.BENCH_HASH!
const password = process.env.BENCH_PASSWORD!
const count = Number(process.env.BENCH_COUNT)
const concurrency = Number(process.env.BENCH_CONCURRENCY)
const warmup = Number(process.env.BENCH_WARMUP ?? 20)

const hasher = createArgon2Hasher()
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
