import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'

/**
 * The API reference renderer's standalone browser bundle, read from the installed package (Node, Bun and
 * Deno resolve it alike), so that /docs loads nothing from a CDN.
 */
export async function readApiReferenceRenderer(): Promise<Uint8Array> {
  return readFile(createRequire(import.meta.url).resolve('@scalar/api-reference/browser/standalone.js'))
}
