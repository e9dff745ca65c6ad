// Starts verify-copy-page-worker.ts in a worker thread. Bun and Deno load TypeScript themselves, and so does
// Node started with `--import tsx` (a worker inherits the flag); elsewhere (`npx tsx`, a test runner) the
// TypeScript loader the project already depends on is registered first. The second import names the
// module differently (a query) because the runtime remembers the first one's failure.
try {
  await import('./verify-copy-page-worker.ts')
} catch (error) {
  if (error?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error
  const { register } = await import('tsx/esm/api')
  register()
  await import('./verify-copy-page-worker.ts?loaded-by=tsx')
}
