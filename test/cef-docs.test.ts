import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { exampleCefPayload, exampleSyslogLine, renderCefDictionary } from '../src/cli/cef-dictionary.ts'
import { CEF_FIELDS } from '../src/core/cef.ts'
import { EVENT_TYPES } from '../src/core/event-types.ts'
import { SERVICE_VERSION } from '../src/version.ts'
import { parseCefWithLognormalizer } from './support/lognormalizer.ts'

const device = { deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: SERVICE_VERSION }

describe('docs/cef.md, the field dictionary for SIEM operators', () => {
  it('is what `npm run docs:cef` generates from the code (run it after changing the CEF mapping)', () => {
    const committed = readFileSync(new URL('../docs/cef.md', import.meta.url), 'utf8')
    expect(committed).toBe(renderCefDictionary(device))
  })

  it('documents every extension key and every event type with an example line', () => {
    const doc = renderCefDictionary(device)
    for (const field of CEF_FIELDS) expect(doc).toContain(`| \`${field.key}\` |`)
    for (const type of EVENT_TYPES) {
      expect(doc).toContain(`### ${type}\n\n\`\`\`\n${exampleSyslogLine(type, device)}\n\`\`\``)
    }
  })

  it('gives example lines an independent parser (lognormalizer) reads back, field for field', async () => {
    const lines = EVENT_TYPES.map((type) => exampleSyslogLine(type, device))
    const parsed = await parseCefWithLognormalizer(lines)
    parsed.forEach(({ header, extensions }, i) => {
      const { event } = exampleCefPayload(EVENT_TYPES[i]!)
      expect(header).toMatchObject({ deviceVendor: 'authtrail', deviceVersion: SERVICE_VERSION, signatureId: event.event_type })
      expect(extensions.externalId).toBe(event.id)
      expect(extensions.act).toBe(event.event_type)
      expect(extensions.duser).toBe(event.identifier ?? undefined)
      expect(extensions.src).toBe(event.ip ?? undefined)
      expect(extensions.dvchost).toBe('auth-1.example.com')
      expect(extensions.cs4).toBe(event.chain_hash)
    })
  })
})
