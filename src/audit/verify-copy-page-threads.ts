import type { Digester } from '../core/digests.ts'
import { verifyCopyPage, type CopyPageJob, type CopyPageResult } from './verify-copy-page.ts'

/** Verifies pages of COPY text, on worker threads or in process. */
export interface CopyPageVerifier {
  /** Worker threads in use; 0 when pages are verified in process. */
  readonly threads: number
  /** True once a thread died: the verifier refuses further pages. */
  readonly failed: boolean
  /** Verifies one page. The page's bytes are handed over to a thread: the caller must not use them again. */
  verify(job: CopyPageJob): Promise<CopyPageResult>
  close(): Promise<void>
}

type WorkerThreads = typeof import('node:worker_threads')
type ThreadWorker = InstanceType<WorkerThreads['Worker']>

/** The number of cores the runtime reports, or 1 when it cannot say (then no thread is started). */
export async function defaultVerificationThreads(): Promise<number> {
  try {
    const os = await import('node:os')
    return os.availableParallelism?.() ?? os.cpus().length
  } catch {
    return 1
  }
}

/** Pages verified in process, one after another, with the digester given. */
export function inProcessVerifier(digester: Digester): CopyPageVerifier {
  return {
    threads: 0,
    failed: false,
    verify: async (job) => verifyCopyPage(job, digester),
    close: async () => {},
  }
}

/**
 * `threads` worker threads verifying pages (node:worker_threads: Node, Bun, Deno), each taking the next
 * page as it finishes one. Where the runtime has no worker threads (workerd) or they cannot start, pages
 * are verified in process instead, with the same results: verification never depends on threads. Worker
 * threads digest with node:crypto, which every runtime that has them provides; in process the digester
 * given is used.
 *
 * @example
 * const pages = await createCopyPageVerifier(2, nodeDigester)
 * try { await pages.verify({ page, from, anchors }) } finally { await pages.close() }
 */
export async function createCopyPageVerifier(threads: number, digester: Digester): Promise<CopyPageVerifier> {
  if (threads < 1) return inProcessVerifier(digester)
  let workerThreads: WorkerThreads
  try {
    workerThreads = await import('node:worker_threads')
    if (typeof workerThreads.Worker !== 'function') return inProcessVerifier(digester)
  } catch {
    return inProcessVerifier(digester)
  }
  const started = await Promise.allSettled(Array.from({ length: threads }, () => startWorker(workerThreads)))
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  if (workers.length < threads) {
    await Promise.all(workers.map((w) => w.terminate()))
    return inProcessVerifier(digester)
  }
  return threadPool(workers)
}

const shared = new Map<number, Promise<CopyPageVerifier | null>>()

/**
 * Like createCopyPageVerifier, but the threads are started once per process and count, and kept for the
 * next verification (idle, they do not keep the process alive): a service answering verification
 * requests pays for starting threads once. Threads that failed are replaced at the next call.
 */
export async function sharedCopyPageVerifier(threads: number, digester: Digester): Promise<CopyPageVerifier> {
  if (threads < 1) return inProcessVerifier(digester)
  let pool = shared.get(threads)
  if (!pool) {
    pool = createCopyPageVerifier(threads, digester).then((v) => (v.threads > 0 ? v : null))
    shared.set(threads, pool)
  }
  const verifier = await pool
  if (verifier === null || verifier.failed) {
    if (verifier?.failed) shared.delete(threads)
    return inProcessVerifier(digester)
  }
  return { threads: verifier.threads, failed: false, verify: (job) => verifier.verify(job), close: async () => {} }
}

function startWorker({ Worker }: WorkerThreads): Promise<ThreadWorker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./verify-copy-page-worker.mjs', import.meta.url))
    const fail = (error: unknown) => {
      void worker.terminate()
      reject(error)
    }
    worker.once('error', fail)
    worker.once('exit', (code) => fail(new Error(`verification thread exited with code ${code} before it started`)))
    worker.once('message', (message: { ready?: boolean }) => {
      worker.removeAllListeners('error').removeAllListeners('exit')
      if (message.ready) resolve(worker)
      else fail(new Error('verification thread did not start'))
    })
  })
}

interface Pending {
  job: CopyPageJob
  resolve: (result: CopyPageResult) => void
  reject: (error: Error) => void
}

function threadPool(workers: ThreadWorker[]): CopyPageVerifier {
  const queue: Pending[] = []
  const idle = [...workers]
  const running = new Map<ThreadWorker, Pending>()
  let failure: Error | null = null

  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop()!
      const pending = queue.shift()!
      running.set(worker, pending)
      const { page } = pending.job
      // The page's bytes move to the thread instead of being copied, when they own their buffer.
      const whole = page.byteOffset === 0 && page.byteLength === page.buffer.byteLength && page.buffer instanceof ArrayBuffer
      worker.ref()
      worker.postMessage(pending.job, whole ? [page.buffer as ArrayBuffer] : [])
    }
  }
  const failAll = (error: Error) => {
    failure ??= error
    for (const pending of [...running.values(), ...queue.splice(0)]) pending.reject(error)
    running.clear()
  }

  for (const worker of workers) {
    worker.on('message', (message: { result?: CopyPageResult; error?: { name: string; message: string } }) => {
      const pending = running.get(worker)
      if (!pending) return
      running.delete(worker)
      worker.unref()
      idle.push(worker)
      if (message.error) {
        const error = new Error(message.error.message)
        error.name = message.error.name
        pending.reject(error)
      } else pending.resolve(message.result!)
      dispatch()
    })
    worker.on('error', (error) => failAll(error))
    worker.on('exit', (code) => failAll(new Error(`verification thread exited with code ${code}`)))
    // Only a thread at work keeps the process alive; an idle one (a verifier not closed) does not.
    worker.unref()
  }

  return {
    threads: workers.length,
    get failed() {
      return failure !== null
    },
    verify: (job) =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure)
        queue.push({ job, resolve, reject })
        dispatch()
      }),
    async close() {
      failure ??= new Error('verification threads closed')
      for (const worker of workers) worker.removeAllListeners('exit')
      await Promise.all(workers.map((w) => w.terminate()))
    },
  }
}
