// Loaded with `node --import` (through NODE_OPTIONS, which refuses --cpu-prof) into a child process the
// benchmarks start when BENCH_PROFILE_DIR is set: samples the CPU from start-up and writes a .cpuprofile
// there when the process exits. Plain JavaScript because it loads before tsx.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'

const dir = process.env.BENCH_PROFILE_DIR
if (dir) {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 500 })
  session.post('Profiler.start')
  process.once('exit', () => {
    // An in-process inspector session answers synchronously, so this completes before the process ends.
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(`${dir}/CPU.${process.pid}.${Date.now()}.cpuprofile`, JSON.stringify(result.profile))
    })
  })
}
