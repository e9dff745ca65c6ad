// Bundled for workerd (src/runtime/build-worker.ts), a .wasm import is a module uploaded beside the worker,
// which workerd hands over compiled (wrangler's CompiledWasm rule).
declare module '*.wasm' {
  const module: WebAssembly.Module
  export default module
}
