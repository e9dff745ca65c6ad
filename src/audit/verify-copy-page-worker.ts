import { parentPort } from 'node:worker_threads'
import { nodeDigester } from './node-digester.ts'
import { verifyCopyPage, type CopyPageJob } from './verify-copy-page.ts'

// A verification worker thread (see verify-copy-page-threads.ts): pages in, results out, no database.
// Digests through node:crypto, which every runtime with worker threads provides.

const port = parentPort
if (!port) throw new Error('verify-copy-page-worker runs only as a worker thread')
port.on('message', (job: CopyPageJob) => {
  try {
    port.postMessage({ result: verifyCopyPage(job, nodeDigester) })
  } catch (error) {
    port.postMessage({ error: { name: (error as Error).name, message: (error as Error).message } })
  }
})
port.postMessage({ ready: true })
