import { readFile } from 'node:fs/promises'
import openapiTS, { astToString } from 'openapi-typescript'
import { describe, expect, it } from 'vitest'
import { buildOpenApiDocument, serialiseOpenApiDocument } from '../src/openapi-document.ts'

describe('OpenAPI document', () => {
  it('the committed openapi/openapi.json is what the routes generate (run `npm run openapi` after changing a route)', async () => {
    const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
    expect(committed).toBe(serialiseOpenApiDocument(await buildOpenApiDocument()))
  })

  it('the one generated copy of the client types, sdk/src/api.d.ts (used by the SDK, the console and the tests), is generated from the committed document (`npm run openapi`)', async () => {
    const document = JSON.parse(await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))
    const committed = await readFile(new URL('../sdk/src/api.d.ts', import.meta.url), 'utf8')
    const generated = astToString(await openapiTS(document))
    // The CLI adds a banner comment; the declarations must match exactly.
    expect(committed.slice(committed.indexOf('export interface paths'))).toBe(generated.slice(generated.indexOf('export interface paths')))
  })

  it('declares every route with problem+json errors', async () => {
    const doc = (await buildOpenApiDocument()) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/auth/login', '/v1/mobile/auth/login', '/v1/auth/register', '/v1/audit/verify']))
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400) expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json'])
        }
      }
    }
  })
})
