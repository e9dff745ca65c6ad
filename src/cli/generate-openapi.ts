import { writeFile } from 'node:fs/promises'
import { buildOpenApiDocument, serialiseOpenApiDocument } from '../openapi-document.ts'

// Writes openapi/openapi.json; a test fails when the committed file differs from what this produces.
const target = new URL('../../openapi/openapi.json', import.meta.url)
await writeFile(target, serialiseOpenApiDocument(await buildOpenApiDocument()))
console.log(`wrote ${target.pathname}`)
