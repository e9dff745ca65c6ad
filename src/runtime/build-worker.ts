import { build, type Metafile } from 'esbuild'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Where `npm run build:worker` writes the bundle; wrangler.json's `main` points at its `worker.js`. */
export const WORKER_OUT_DIR = `${REPO_ROOT}dist/worker`

/**
 * Bundles src/runtime/workerd.ts into one ES module for workerd, with the argon2id WebAssembly files copied
 * beside it as separate modules (workerd compiles those at upload; it refuses to compile bytes at run time).
 *
 * esbuild directly rather than wrangler's bundler: it is already in the tree (tsx and vitest build on it),
 * the test runs exactly the bundle that is deployed (`wrangler deploy` with `no_bundle`), and package
 * exports resolve as on Cloudflare: the `workerd` condition picks postgres.js's Cloudflare build, which
 * speaks TCP through `cloudflare:sockets`. `node:*` stays external: workerd provides those modules under
 * the `nodejs_compat` flag (postgres.js needs `node:events` and `node:buffer`, authtrail `node:crypto`,
 * `node:net`'s isIP and `node:async_hooks`).
 *
 * @example
 * const { outfile } = await buildWorker()
 */
export async function buildWorker(outdir = WORKER_OUT_DIR): Promise<{ outfile: string; metafile: Metafile }> {
  const result = await build({
    entryPoints: { worker: `${REPO_ROOT}src/runtime/workerd.ts` },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['node:*', 'cloudflare:*'],
    loader: { '.wasm': 'copy' },
    assetNames: '[name]-[hash]',
    minify: true,
    // Error classes keep their names in logs (and in `last_error`), as on the other runtimes.
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  })
  return { outfile: `${outdir}/worker.js`, metafile: result.metafile }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outfile, metafile } = await buildWorker()
  const bytes = Object.values(metafile.outputs).reduce((sum, o) => sum + o.bytes, 0)
  console.log(`built ${outfile} (${Object.keys(metafile.outputs).length} files, ${(bytes / 1024).toFixed(0)} KiB)`)
}
