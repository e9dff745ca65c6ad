import { createHash } from 'node:crypto'
import type { Digester } from '../core/digests.ts'

/**
 * The same three digests through the runtime's native `node:crypto` (Node, Bun and Deno all provide it):
 * several times the throughput of `@noble/hashes`, which chain verification needs. A unit test proves
 * both give identical bytes.
 */
export const nodeDigester: Digester = {
  sha256: (data) => createHash('sha256').update(data).digest(),
  digestBytes: (data) => ({
    sha256: createHash('sha256').update(data).digest(),
    sha512: createHash('sha512').update(data).digest(),
    sha3_256: createHash('sha3-256').update(data).digest(),
  }),
}
