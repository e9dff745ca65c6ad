import { writeFile } from 'node:fs/promises'
import { renderCefDictionary } from './cef-dictionary.ts'
import { SERVICE_VERSION } from '../version.ts'

// Writes docs/cef.md, the CEF field dictionary; a test fails when the committed file differs from this output.
const target = new URL('../../docs/cef.md', import.meta.url)
await writeFile(target, renderCefDictionary({ deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: SERVICE_VERSION }))
console.log(`wrote ${target.pathname}`)
